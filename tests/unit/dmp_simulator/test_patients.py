from __future__ import annotations

import json

import pytest

from dmp_gateway.dmp_simulator.patients import DmpState, PatientDirectory, PatientsFileError, load_patients


def test_default_file_has_the_test_identities():
    patients = load_patients()
    assert patients.lookup("279035121518989").state is DmpState.OPEN
    closed = patients.lookup("207058575627097")
    assert closed.state is DmpState.CLOSED and closed.closed_on.isoformat() == "2024-06-30"
    assert patients.lookup("255069999999934").state is DmpState.NONE
    assert patients.lookup("188102b17295264").state is DmpState.OPEN  # Corsica, lower-case accepted


def test_unlisted_ins_has_no_dmp():
    assert load_patients().lookup("180017512345628").state is DmpState.NONE


def test_json_file(tmp_path):
    path = tmp_path / "patients.json"
    path.write_text(json.dumps({"patients": [{"ins": "279035121518989", "state": "closed", "closed_reason": "décès"}]}))
    record = load_patients(path).lookup("279035121518989")
    assert (record.state, record.closed_reason) == (DmpState.CLOSED, "décès")


@pytest.mark.parametrize(
    "data, words",
    [
        ({"patients": [{"ins": "279035121518988", "state": "open"}]}, "patients.0.ins"),
        ({"patients": [{"ins": "279035121518989", "state": "ajar"}]}, "patients.0.state"),
        ({"patients": [{"ins": "279035121518989", "state": "open", "colour": "red"}]}, "patients.0.colour"),
        ({"patients": [{"ins": "279035121518989", "state": "open"}] * 2}, "listed twice"),
        ({"people": []}, "patients"),
    ],
)
def test_bad_files_name_the_entry_and_field(data, words):
    with pytest.raises(PatientsFileError, match=words.replace(".", r"\.")):
        PatientDirectory.parse(data)


def test_unreadable_and_malformed_files(tmp_path):
    with pytest.raises(PatientsFileError, match="cannot read"):
        load_patients(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("patients: [\n")
    with pytest.raises(PatientsFileError, match="not valid YAML"):
        load_patients(broken)
