"""INS (Identifiant National de Santé): a NIR or NIA matricule plus the OID of its authority.

A stdlib-only leaf shared by every package (fhir validation, CDA, DMP wire, simulator).
Source: ../shared/domain/ins-nir.md (format §2, key §3, OIDs §4).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

#: OIDs of the INS assigning authorities, by environment.
OID_NIR_PROD = "1.2.250.1.213.1.4.8"
OID_NIA_PROD = "1.2.250.1.213.1.4.9"
OID_NIR_TEST = "1.2.250.1.213.1.4.10"
OID_NIR_DEMO = "1.2.250.1.213.1.4.11"
INS_OIDS = (OID_NIR_PROD, OID_NIA_PROD, OID_NIR_TEST, OID_NIR_DEMO)

#: FHIR identifier systems that carry a NIR/NIA (seed + Lifen v3 + the INS OIDs).
SEED_NIR_SYSTEM = "http://lifen.fr/fhir/Identifier/patient-nir-od"
INS_SYSTEMS = (SEED_NIR_SYSTEM, *(f"urn:oid:{oid}" for oid in INS_OIDS))

_SHAPE = re.compile(r"^[1-478][0-9]{4}(?:[0-9]{2}|2A|2B)[0-9]{6}[0-9]{2}$")


class InsEnvironment(str, Enum):
    """Which DMP platform the gateway talks to; it decides the INS OID (never a client input)."""

    PRODUCTION = "production"
    TEST = "test"
    DEMO = "demo"


class InvalidIns(ValueError):
    """The value is not a well-formed NIR/NIA with a valid control key."""


def nir_key(first13: str) -> int:
    """Control key = 97 - (N mod 97); Corsica 2A/2B count as 19/18 (ins-nir.md §3)."""
    body = first13.upper()
    dept = body[5:7]
    if dept == "2A":
        body = body[:5] + "19" + body[7:]
    elif dept == "2B":
        body = body[:5] + "18" + body[7:]
    if len(body) != 13 or not body.isdigit():
        raise InvalidIns("the first 13 characters must be digits (2A/2B allowed as department)")
    return 97 - int(body) % 97


def check_matricule(value: str) -> str | None:
    """Return None when `value` is a valid 15-character NIR/NIA, else the rule it breaks, in words."""
    if len(value) != 15:
        return f"must be 15 characters (got {len(value)})"
    if not _SHAPE.match(value.upper()):
        return "must be 13 digits (department 2A/2B allowed) followed by a 2-digit key"
    expected = nir_key(value[:13])
    if int(value[13:]) != expected:
        return f"control key {value[13:]} is wrong (97 - N mod 97 gives {expected:02d})"
    return None


@dataclass(frozen=True, slots=True)
class Ins:
    """A patient's INS: 15-character matricule and the OID of its assigning authority."""

    #: The NIR or NIA, upper-case, without spaces (2A/2B kept as letters).
    value: str
    #: Assigning authority OID (production .4.8/.4.9, test .4.10, demo .4.11).
    oid: str

    def __post_init__(self) -> None:
        problem = check_matricule(self.value)
        if problem:
            raise InvalidIns(f"INS {problem}")

    @classmethod
    def parse(cls, value: str, oid: str) -> "Ins":
        return cls(value.replace(" ", "").upper(), oid)

    @property
    def cx(self) -> str:
        """HL7 v2 CX form used by XDS and the VIHF: `<INS>^^^&<OID>&ISO^NH`."""
        return f"{self.value}^^^&{self.oid}&ISO^NH"

    @property
    def sex_digit(self) -> str:
        return self.value[0]

    def birth_place_code(self) -> str | None:
        """INSEE COG code of the birth place read from positions 6-10 (99xxx = abroad), if plausible."""
        dept = self.value[5:7]
        if dept in ("97", "98"):
            return self.value[5:10]
        if dept == "99":
            return "99" + self.value[7:10]
        return self.value[5:10]


def oid_for(system: str | None, environment: InsEnvironment, *, nia: bool = False) -> str:
    """OID for a FHIR identifier system: an explicit `urn:oid:` INS system wins, else the environment's."""
    if system and system.startswith("urn:oid:") and system[8:] in INS_OIDS:
        return system[8:]
    if environment is InsEnvironment.TEST:
        return OID_NIR_TEST
    if environment is InsEnvironment.DEMO:
        return OID_NIR_DEMO
    return OID_NIA_PROD if nia else OID_NIR_PROD
