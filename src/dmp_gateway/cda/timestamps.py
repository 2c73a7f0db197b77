"""HL7 v3 TS values (`YYYYMMDD[HHMMSS[+ZZZZ]]`) and the ISO 8601 strings they come from.

CDA TS: HL7 V3 Data Types R1 §2.24 and the kit's check ``matches(@value, '^[0-9]{4,14}')``; the ANS
examples write date-times with their offset, e.g. ``20250301101500+0100``.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from dmp_gateway.cda.inputs import Timestamp

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")


def format_ts(value: Timestamp) -> str:
    """A date as ``YYYYMMDD``; a date-time as ``YYYYMMDDHHMMSS`` plus ``+HHMM`` when it has an offset."""
    if not isinstance(value, datetime):
        return value.strftime("%Y%m%d")
    text = value.strftime("%Y%m%d%H%M%S")
    offset = value.utcoffset()
    if offset is None:
        return text
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{text}{sign}{minutes // 60:02d}{minutes % 60:02d}"


def parse_iso(value: object) -> Timestamp | None:
    """A full ISO date (``2025-03-01``) or a date-time with its offset (FHIR STU3 dateTime/instant).

    Returns None for anything else, including the partial dates FHIR allows (``2025``, ``2025-03``)
    and date-times without an offset, which a CDA TS cannot carry without guessing.
    """
    if not isinstance(value, str):
        return None
    try:
        if _DATE.match(value):
            return date.fromisoformat(value)
        if _DATETIME.match(value):
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return None


def as_date(value: Timestamp) -> date:
    """The calendar date of a TS (in its own offset)."""
    return value.date() if isinstance(value, datetime) else value


def not_before(later: Timestamp, earlier: Timestamp) -> bool:
    """True when `later` is not before `earlier`; compares dates when either side is a bare date."""
    if isinstance(later, datetime) and isinstance(earlier, datetime):
        if (later.utcoffset() is None) == (earlier.utcoffset() is None):
            return later >= earlier
    return as_date(later) >= as_date(earlier)
