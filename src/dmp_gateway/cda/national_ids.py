"""French national identifiers of professionals and structures, as the CDA and XDS carry them.

Sources (xds-metadata.md §6, from PDSM4DMP PSIdNat.fsh / StructIdNat.fsh):
- PS_IdNat (root 1.2.250.1.71.4.2.1): ``8`` + RPPS (11 digits), e.g. ``810002422979``; a system is
  ``3``/``4``/``5`` + its structure's FINESS/SIREN/SIRET + ``/`` + an internal id.
- Struct_IdNat (root 1.2.250.1.71.4.2.2): ``1`` + FINESS (9 characters), ``2`` + SIREN (9 digits),
  ``3`` + SIRET (14 digits), e.g. ``1120459876``.
"""

from __future__ import annotations

import re
from enum import Enum

_RPPS = re.compile(r"^\d{11}$")
_FINESS = re.compile(r"^(\d{9}|2[AB]\d{7})$")  # department (2A/2B for Corsica) + 7 digits
_SIREN = re.compile(r"^\d{9}$")
_SIRET = re.compile(r"^\d{14}$")


class StructureKind(str, Enum):
    """Which directory a structure id comes from; the value is its Struct_IdNat prefix."""

    FINESS = "1"
    SIREN = "2"
    SIRET = "3"


#: PS_IdNat prefix of a system (software) identified within a structure of each kind.
_SYSTEM_PREFIX = {StructureKind.FINESS: "3", StructureKind.SIREN: "4", StructureKind.SIRET: "5"}
_SHAPES = {StructureKind.FINESS: _FINESS, StructureKind.SIREN: _SIREN, StructureKind.SIRET: _SIRET}
_LENGTHS = {StructureKind.FINESS: 9, StructureKind.SIREN: 9, StructureKind.SIRET: 14}


def ps_national_id_from_rpps(rpps: str) -> str | None:
    """PS_IdNat of a professional from the RPPS number; accepts it already prefixed (``8`` + 11 digits)."""
    value = rpps.strip()
    if len(value) == 12 and value.startswith("8"):
        value = value[1:]
    return "8" + value if _RPPS.match(value) else None


def structure_national_id(kind: StructureKind, value: str) -> str | None:
    """Struct_IdNat from a raw FINESS/SIREN/SIRET, or the same value when it is already prefixed."""
    raw = value.strip().upper()
    if len(raw) == _LENGTHS[kind] + 1 and raw.startswith(kind.value):
        raw = raw[1:]
    return kind.value + raw if _SHAPES[kind].match(raw) else None


def normalize_structure_id(value: str) -> str | None:
    """Struct_IdNat from an identifier that may be prefixed already (10 or 15 characters) or a raw
    FINESS (9 characters) or SIRET (14 digits); lengths never overlap, so the reading is unambiguous."""
    raw = value.strip().upper()
    if structure_kind(raw) is not None:
        return raw
    return structure_national_id(StructureKind.FINESS, raw) or structure_national_id(StructureKind.SIRET, raw)


def structure_kind(national_id: str) -> StructureKind | None:
    """The directory of a Struct_IdNat, read from its prefix and shape."""
    for kind in StructureKind:
        if national_id.startswith(kind.value) and _SHAPES[kind].match(national_id[1:]):
            return kind
    return None


def system_national_id(structure_id: str, internal_id: str) -> str | None:
    """PS_IdNat of a software author: ``3``/``4``/``5`` + the structure's own number + ``/`` + internal id."""
    kind = structure_kind(structure_id)
    if kind is None or not internal_id:
        return None
    return f"{_SYSTEM_PREFIX[kind]}{structure_id[1:]}/{internal_id}"
