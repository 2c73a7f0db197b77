"""500s found by test_fuzz.py, each pinned by the smallest request that made it."""

import orjson
import pytest

from fhir_payloads import FHIR, PATIENT, outcome


@pytest.mark.parametrize("offset", ["9223372036854775808", "2147483648"])
def test_an_offset_past_the_limit_is_a_400_naming_offset(gateway, ws, offset):
    # Was: PostgreSQL "bigint out of range" on OFFSET, a 500.
    with gateway.client(ws.token) as c:
        r = c.get("/Patient", params={"_offset": offset})
    assert r.status_code == 400
    issue = outcome(r)[0]
    assert issue["expression"] == ["_offset"] and "2147483647 or less" in issue["diagnostics"]


def test_the_largest_offset_is_accepted(gateway, ws):
    with gateway.client(ws.token) as c:
        r = c.get("/Patient", params={"_offset": "2147483647"})
    assert r.status_code == 200 and r.json()["total"] >= 0


@pytest.mark.parametrize("version", ["%C2%B2", "99999999999", "%D9%A1"])
def test_a_version_that_is_not_a_stored_integer_is_a_404(gateway, ws, version):
    # Was: "²" passes str.isdigit() but int() refuses it, and 11 digits overflow the integer column: 500s.
    # "١" (Arabic-Indic one) was read as version 1; versionIds are ASCII digits (STU3 datatypes.html#id).
    with gateway.client(ws.token) as c:
        pid = c.post("/Patient", content=orjson.dumps(PATIENT), headers=FHIR).json()["id"]
        r = c.get(f"/Patient/{pid}/_history/{version}")
        assert c.get(f"/Patient/{pid}/_history/1").status_code == 200
    assert r.status_code == 404
    assert "is not a valid version" in outcome(r)[0]["diagnostics"]
