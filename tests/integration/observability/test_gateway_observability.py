"""The real gateway on loopback: what its logs and /metrics say, and what they must never say."""

from __future__ import annotations

import time

import httpx
import psycopg
import pytest
from fhir_payloads import FHIR, post_seed_resources, seed_patient
from log_capture import CapturedLogs, captured_logs
from prometheus_client.parser import text_string_to_metric_families

from dmp_gateway.delivery.states import State

NIR = "279035121518989"
#: The same NIR with a wrong key: refused (422), and the refusal must not be logged with it.
BAD_NIR = "279035121518988"
FAMILY, GIVEN = "ZYGOMAR-QUILLET", "Anastase"


def access_lines(logs: CapturedLogs) -> list[dict]:
    return [r for r in logs.records() if r.get("logger") == "dmp_gateway.access"]


def wait_for_access_lines(logs: CapturedLogs, count: int, timeout: float = 10.0) -> None:
    """The server thread writes its access line just after the response is sent: wait for it."""
    deadline = time.monotonic() + timeout
    while logs.text().count("dmp_gateway.access") < count:
        assert time.monotonic() < deadline, logs.text()
        time.sleep(0.01)


def patient_traffic(gateway, ws) -> int:
    """Requests carrying a patient's NIR and name in bodies and query strings; returns their number."""
    with gateway.client(ws.token) as c:
        headers = {**FHIR, "X-Request-ID": "leak-check-1"}
        created = c.post("/Patient", headers=headers, content=seed_patient(NIR, family=FAMILY, given=GIVEN))
        assert created.status_code == 201, created.text
        refused = c.post("/Patient", headers=FHIR, content=seed_patient(BAD_NIR, family=FAMILY, given=GIVEN))
        assert refused.status_code == 422, refused.text
        found = c.get("/Patient", params={"identifier": f"urn:oid:1.2.250.1.213.1.4.8|{NIR}", "family": FAMILY})
        assert found.status_code == 200, found.text
        read = c.get(f"/Patient/{created.json()['id']}")
        assert read.status_code == 200
    with gateway.client() as anonymous:
        assert anonymous.get("/Patient", params={"identifier": NIR}).status_code == 401
    return 5


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "console"])
def test_requests_with_a_patients_nir_and_name_leave_no_trace_of_them_in_the_logs(gateway, as_json):
    ws = gateway.new_workspace()
    with captured_logs(log_json=as_json, log_level="DEBUG") as logs:
        count = patient_traffic(gateway, ws)
        wait_for_access_lines(logs, count)

    text = logs.text()
    # The capture worked: one access line per request, with its route template and request id.
    assert text.count("dmp_gateway.access") == count
    assert "leak-check-1" in text and "/fhir/v2/Patient/{res_id}" in text
    for secret in (NIR, BAD_NIR, FAMILY, GIVEN, "identifier=", ws.token, ws.token.split(".")[1]):
        assert secret not in text, f"{secret!r} leaked into the logs:\n{text}"


def test_access_lines_carry_method_route_status_and_duration(gateway):
    ws = gateway.new_workspace()
    with captured_logs(log_json=True) as logs:
        count = patient_traffic(gateway, ws)
        wait_for_access_lines(logs, count)

    lines = access_lines(logs)
    assert [(line["method"], line["route"], line["status"]) for line in lines] == [
        ("POST", "/fhir/v2/Patient", 201), ("POST", "/fhir/v2/Patient", 422), ("GET", "/fhir/v2/Patient", 200),
        ("GET", "/fhir/v2/Patient/{res_id}", 200), ("GET", "/fhir/v2/Patient", 401)]
    assert lines[0]["request_id"] == "leak-check-1" and "message" not in lines[0]
    assert len({line["request_id"] for line in lines}) == count
    assert all(line["duration_ms"] > 0 for line in lines)


def scrape(gateway) -> dict[tuple[str, frozenset], float]:
    text = httpx.get(f"{gateway.base_url}/metrics", timeout=10).raise_for_status().text
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_count_requests_by_route_and_read_deliveries_by_state_from_postgresql(gateway):
    ws = gateway.new_workspace()
    posted = frozenset({("method", "POST"), ("route", "/fhir/v2/CommunicationRequest"), ("status", "201")})
    before = scrape(gateway).get(("dmpgw_http_requests_total", posted), 0)
    with gateway.client(ws.token) as c:
        *_, request = post_seed_resources(c, ws)
    assert request.status_code == 201, request.text

    got = scrape(gateway)
    with psycopg.connect(gateway.database_url) as conn:
        in_db = dict(conn.execute("select state, count(*) from delivery group by state").fetchall())

    assert got[("dmpgw_http_requests_total", posted)] == before + 1
    assert got[("dmpgw_database_up", frozenset())] == 1
    by_state = {dict(labels)["state"]: value for (name, labels), value in got.items() if name == "dmpgw_deliveries"}
    assert by_state == {state.value: in_db.get(state.value, 0) for state in State}
    assert sum(by_state.values()) >= 1
