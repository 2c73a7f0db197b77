"""Who has a DMP in the simulator: a YAML or JSON file of INS and DMP states (`--patients FILE`).

Format: `{"patients": [{"ins": "279035121518989", "state": "open"},
{"ins": "...", "state": "closed", "closed_on": "2025-01-01", "closed_reason": "..."}]}`.
`state` is `open`, `closed` or `none`; an INS that is not in the file has no DMP (TD0.2 answers `NF`,
ITI-41 answers XDSUnknownPatientId). Source: ../shared/domain/dmp-interfaces.md §3 and §10.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from enum import Enum
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from dmp_gateway.ins import check_matricule


class DmpState(str, Enum):
    """State of a patient's DMP as TD0.2 reports it."""

    OPEN = "open"  #: exists and active: documents may be fed
    CLOSED = "closed"  #: exists but closed (TD0.2 patient statusCode `terminated`)
    NONE = "none"  #: no DMP (TD0.2 queryResponseCode `NF`)


class PatientsFileError(ValueError):
    """The patients file cannot be read or breaks the format; the message names the entry and field."""


class _PatientEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ins: str
    state: DmpState
    closed_on: date | None = None
    closed_reason: str | None = None

    @field_validator("ins")
    @classmethod
    def _valid_ins(cls, value: str) -> str:
        value = value.replace(" ", "").upper()
        problem = check_matricule(value)
        if problem:
            raise ValueError(f"INS {problem}")
        return value


class _PatientsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    patients: list[_PatientEntry]


@dataclass(frozen=True, slots=True)
class PatientRecord:
    """One patient as the simulated DMP knows them."""

    #: The 15-character matricule (NIR/NIA), upper-case.
    ins: str
    state: DmpState
    #: When a closed DMP was closed, if the file says.
    closed_on: date | None = None
    #: Why it was closed, if the file says.
    closed_reason: str | None = None


class PatientDirectory:
    """Looks patients up by matricule; unknown matricules have no DMP."""

    def __init__(self, records: list[PatientRecord]) -> None:
        self._by_ins = {record.ins: record for record in records}

    def lookup(self, ins: str) -> PatientRecord:
        return self._by_ins.get(ins.upper(), PatientRecord(ins=ins.upper(), state=DmpState.NONE))

    def __iter__(self) -> Iterator[PatientRecord]:
        return iter(self._by_ins.values())

    def __len__(self) -> int:
        return len(self._by_ins)

    @classmethod
    def parse(cls, data: object, *, source: str = "patients") -> "PatientDirectory":
        """Build from already-decoded YAML/JSON; errors name the entry index and the field."""
        try:
            parsed = _PatientsFile.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
            )
            raise PatientsFileError(f"{source}: {problems}") from exc
        seen: set[str] = set()
        records = []
        for index, entry in enumerate(parsed.patients):
            if entry.ins in seen:
                raise PatientsFileError(f"{source}: patients.{index}.ins: INS listed twice")
            seen.add(entry.ins)
            records.append(PatientRecord(entry.ins, entry.state, entry.closed_on, entry.closed_reason))
        return cls(records)


def load_patients(path: Path | None = None) -> PatientDirectory:
    """Read a YAML or JSON patients file; `None` reads the default shipped with the package."""
    if path is None:
        text = resources.files(__package__).joinpath("patients.yaml").read_text(encoding="utf-8")
        source = "patients.yaml (default)"
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise PatientsFileError(f"{path}: cannot read: {exc.strerror}") from exc
        source = str(path)
    try:
        data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise PatientsFileError(f"{source}: not valid YAML/JSON: {exc}") from exc
    return PatientDirectory.parse(data, source=source)
