"""`dmp-gateway dmp-sim`: the command starts an mTLS simulator on the configured database and certificates,
stops cleanly on SIGTERM, and refuses a bad patients file with the field named."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import httpx
import pytest

pytest.importorskip("dmp_gateway.dmp.devcerts")

from dmp_gateway.dmp.certs import CertPaths, client_ssl_context  # noqa: E402
from dmp_gateway.dmp.devcerts import generate  # noqa: E402

from .conftest import ready_line

CLI = [sys.executable, "-m", "dmp_gateway.cli", "dmp-sim"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environment(tmp_path, database_url: str) -> dict[str, str]:
    return {**os.environ, "DMPGW_DATA_DIR": str(tmp_path / "data"), "DMPGW_CERTS_DIR": str(tmp_path / "certs"),
            "DMPGW_DATABASE_URL": database_url}


async def test_dmp_sim_serves_over_mtls_and_stops_on_sigterm(tmp_path, database_url):
    paths: CertPaths = generate(tmp_path / "certs")
    port = _free_port()
    process = subprocess.Popen([*CLI, "--port", str(port), "--tls"], env=_environment(tmp_path, database_url),
                               stderr=subprocess.PIPE, text=True)
    try:
        line = ready_line(process.stderr)  # the server says when it listens
        assert "ready on https://127.0.0.1:" in line, line
        async with httpx.AsyncClient(verify=client_ssl_context(paths), timeout=10) as client:
            health = (await client.get(f"https://127.0.0.1:{port}/_sim/health")).json()
        assert health["status"] == "ok" and health["trusted_certificates"] == 1 and health["patients"] == 6
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    assert code == 0


def test_bad_patients_file_is_refused_with_the_field_named(tmp_path, database_url):
    patients = tmp_path / "patients.yaml"
    patients.write_text('patients:\n  - {ins: "279035121518988", state: open}\n')
    result = subprocess.run([*CLI, "--patients", str(patients)], env=_environment(tmp_path, database_url),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "patients.0.ins" in result.stderr and "control key" in result.stderr
