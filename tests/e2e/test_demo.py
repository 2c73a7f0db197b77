"""`dmp-gateway demo` (what `make demo` runs) in a fresh data dir: it must end with the three expected outcomes."""

import os
import subprocess
import sys
from datetime import date

from dmp_gateway.demo import birth_date_from_nir, demo_patients


def test_demo_sends_to_an_open_a_closed_and_no_dmp_and_stops_everything(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DMPGW_")}
    env.update(DMPGW_DATA_DIR=str(tmp_path / "data"), COLUMNS="200")
    done = subprocess.run([sys.executable, "-m", "dmp_gateway.cli", "demo"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "the three expected outcomes" in done.stdout
    for words in ("completed", "dmp-closed", "dmp-not-found", "dmp-gateway cda CommunicationRequest/", "/console"):
        assert words in done.stdout, words
    assert (tmp_path / "data" / "pg" / ".handle_pids.json").read_text() == "[]"  # nobody holds PostgreSQL


def test_the_demo_patients_come_from_the_simulators_default_file():
    assert [(p.ins, p.expected) for p in demo_patients()] == [
        ("279035121518989", "completed"), ("207058575627097", "dmp-closed"), ("255069999999934", "dmp-not-found")]


def test_birth_dates_agree_with_the_nir_digits():
    today = date(2026, 11, 25)
    assert birth_date_from_nir("279035121518989", today) == "1979-03-01"
    assert birth_date_from_nir("207058575627097", today) == "2007-05-01"
    assert birth_date_from_nir("188102B17295264", today) == "1988-10-01"
    assert birth_date_from_nir("155209912345678", today) == "1955-01-01"  # month 20: unknown
