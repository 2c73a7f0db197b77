"""CDA TS formatting and the ISO strings accepted from FHIR."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from dmp_gateway.cda.timestamps import format_ts, not_before, parse_iso


@pytest.mark.parametrize("value, expected", [
    (date(1979, 3, 28), "19790328"),
    (datetime(2025, 3, 1, 10, 15, 7, 999, tzinfo=timezone(timedelta(hours=1))), "20250301101507+0100"),
    (datetime(2025, 3, 1, 10, 15, tzinfo=timezone(timedelta(hours=-3, minutes=-30))), "20250301101500-0330"),
    (datetime(2025, 3, 1, 10, 15, tzinfo=timezone.utc), "20250301101500+0000"),
    (datetime(2025, 3, 1, 10, 15), "20250301101500"),
])
def test_format_ts(value, expected):
    assert format_ts(value) == expected


def test_parse_iso_takes_full_dates_and_offset_date_times_only():
    assert parse_iso("2025-03-01") == date(2025, 3, 1)
    assert parse_iso("2025-03-01T10:15:00Z") == datetime(2025, 3, 1, 10, 15, tzinfo=timezone.utc)
    assert parse_iso("2025-03-01T10:15:00.123+01:00").utcoffset() == timedelta(hours=1)
    for partial_or_bad in ("2025", "2025-03", "2025-03-01T10:15:00", "2025-02-30", "yesterday", None, 20250301):
        assert parse_iso(partial_or_bad) is None


def test_not_before_compares_dates_when_one_side_is_a_date():
    paris = timezone(timedelta(hours=1))
    assert not_before(datetime(2025, 3, 1, 0, 30, tzinfo=paris), date(2025, 3, 1))
    assert not not_before(date(2025, 2, 28), datetime(2025, 3, 1, tzinfo=paris))
    assert not not_before(datetime(2025, 3, 1, 9, tzinfo=paris), datetime(2025, 3, 1, 10, tzinfo=paris))
