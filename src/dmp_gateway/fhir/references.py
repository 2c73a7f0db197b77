"""FHIR references (STU3 references.html): parsing, and checking they resolve in the caller's workspace."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from dmp_gateway.fhir.outcomes import Issue

_REF = re.compile(r"^(?:https?://[^\s]*/)?([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/([0-9]+))?$")


@dataclass(frozen=True, slots=True)
class Ref:
    res_type: str
    id: str
    version: int | None = None

    def __str__(self) -> str:
        return f"{self.res_type}/{self.id}"


def parse_reference(value: object) -> Ref | None:
    """`Type/id`, `Type/id/_history/n` or an absolute URL ending so; None when it is none of these."""
    if not isinstance(value, str):
        return None
    match = _REF.match(value.strip())
    if not match:
        return None
    return Ref(match.group(1), match.group(2), int(match.group(3)) if match.group(3) else None)


@dataclass(frozen=True, slots=True)
class RefSlot:
    """A reference found in a resource: where it is, what it says, which types it may point to."""

    path: str
    raw: object
    allowed: tuple[str, ...]


def check_references(slots: Iterable[RefSlot], existing: set[tuple[str, str]]) -> list[Issue]:
    """Issues for references that are malformed, of a wrong type, or absent from the workspace."""
    issues = []
    for slot in slots:
        ref = parse_reference(slot.raw)
        if ref is None:
            issues.append(Issue("value", f"{slot.path} must be a reference like "
                                         f"'{slot.allowed[0]}/<id>' (got {slot.raw!r})", slot.path))
        elif ref.res_type not in slot.allowed:
            issues.append(Issue("value", f"{slot.path} must reference {' or '.join(slot.allowed)}, "
                                         f"not {ref.res_type}", slot.path))
        elif (ref.res_type, ref.id) not in existing:
            issues.append(Issue("not-found", f"{slot.path} references {ref}, which does not exist "
                                             "in this workspace", slot.path))
    return issues


def resolvable(slots: Iterable[RefSlot]) -> list[tuple[str, str]]:
    """The (type, id) pairs to look up in the store."""
    out = []
    for slot in slots:
        ref = parse_reference(slot.raw)
        if ref is not None and ref.res_type in slot.allowed:
            out.append((ref.res_type, ref.id))
    return out
