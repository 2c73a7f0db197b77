"""Per request: X-Request-ID honoured or minted and echoed, bound into log records; one access line."""

from __future__ import annotations

import logging
import re
from types import SimpleNamespace

import httpx
import pytest
import structlog
from fastapi import FastAPI
from log_capture import captured_logs
from starlette.requests import Request
from starlette.responses import Response

from dmp_gateway import observability


def tiny_app() -> FastAPI:
    """A FastAPI app with the observability wiring and routes that behave like the FHIR ones."""
    app = FastAPI()

    @app.get("/fhir/v2/Patient/{res_id}")
    async def read(request: Request, res_id: str) -> dict:
        logging.getLogger("dmp_gateway.fhir.test").warning("reading a resource")
        request.state.principal = SimpleNamespace(workspace_id="ws-1")  # as auth sets it
        return {"id": res_id}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("unexpected")

    # Plain Starlette routes, as the FHIR route table adds them; one endpoint may serve several paths.
    async def plain(request: Request) -> Response:
        return Response(status_code=204)

    async def refused(request: Request) -> Response:
        return Response(status_code=405)

    app.router.add_route("/fhir/v2/Binary/{res_id}", plain, methods=["GET"])
    for rtype in ("Patient", "Device"):
        app.router.add_route(f"/fhir/v2/{rtype}/{{res_id}}", refused, methods=["DELETE"])

    observability.install(app)
    return app


@pytest.fixture
def client():
    transport = httpx.ASGITransport(app=tiny_app(), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://gw")


def access_lines(logs) -> list[dict]:
    return [r for r in logs.records() if r["logger"] == "dmp_gateway.access"]


async def test_a_well_formed_request_id_is_kept_echoed_and_bound_to_every_record(client):
    with captured_logs(log_json=True) as logs:
        r = await client.get("/fhir/v2/Patient/p1", headers={"X-Request-ID": "lb-4f2a.91:7"})

    assert r.headers["x-request-id"] == "lb-4f2a.91:7"
    inside, access = logs.records()
    assert inside["event"] == "reading a resource" and inside["request_id"] == "lb-4f2a.91:7"
    assert access["request_id"] == "lb-4f2a.91:7"


@pytest.mark.parametrize("header", [None, "", "two words", "x" * 129, 'forged" level=error'])
async def test_a_missing_or_odd_request_id_is_replaced_by_a_fresh_one(client, header):
    headers = {"X-Request-ID": header} if header is not None else {}
    first = await client.get("/fhir/v2/Patient/p1", headers=headers)
    second = await client.get("/fhir/v2/Patient/p1", headers=headers)

    assert re.fullmatch(r"[0-9a-f]{32}", first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_the_access_line_names_the_route_template_never_the_path_or_query(client):
    with captured_logs(log_json=True) as logs:
        await client.get("/fhir/v2/Patient/secret-id-77", params={"name": "DUPONT", "identifier": "279035121518989"})

    (line,) = access_lines(logs)
    assert line["event"] == "request"
    assert line == {**line, "method": "GET", "route": "/fhir/v2/Patient/{res_id}", "status": 200,
                    "workspace": "ws-1"}
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    for secret in ("secret-id-77", "DUPONT", "279035121518989", "identifier"):
        assert secret not in logs.text()


@pytest.mark.parametrize(("method", "path", "route", "status"), [
    ("GET", "/fhir/v2/Binary/b1", "/fhir/v2/Binary/{res_id}", 204),
    ("POST", "/fhir/v2/Binary/b1", "/fhir/v2/Binary/{res_id}", 405),  # path known, method not
    ("DELETE", "/fhir/v2/Device/d1", "/fhir/v2/Device/{res_id}", 405),
    ("DELETE", "/fhir/v2/Patient/p1", "/fhir/v2/Patient/{res_id}", 405),
])
async def test_plain_starlette_routes_are_named_by_their_template(client, method, path, route, status):
    with captured_logs(log_json=True) as logs:
        r = await client.request(method, path)

    assert r.status_code == status
    (line,) = access_lines(logs)
    assert (line["route"], line["status"]) == (route, status)


async def test_unknown_paths_are_one_label_not_one_per_path(client):
    with captured_logs(log_json=True) as logs:
        await client.get("/fhir/v2/Patient/p1/whatever/279035121518989")

    (line,) = access_lines(logs)
    assert line["route"] == "<unmatched>" and line["status"] == 404 and "workspace" not in line
    assert "279035121518989" not in logs.text()


async def test_an_unhandled_error_is_logged_and_counted_as_500(client):
    before = observability.metrics().registry.get_sample_value(
        "dmpgw_http_requests_total", {"method": "GET", "route": "/boom", "status": "500"}) or 0
    with captured_logs(log_json=True) as logs:
        r = await client.get("/boom")

    assert r.status_code == 500
    (line,) = access_lines(logs)
    assert line["status"] == 500 and line["route"] == "/boom"
    after = observability.metrics().registry.get_sample_value(
        "dmpgw_http_requests_total", {"method": "GET", "route": "/boom", "status": "500"})
    assert after == before + 1


async def test_probes_are_access_logged_at_debug_only(client):
    with captured_logs(log_json=True) as info:
        await client.get("/healthz")
    with captured_logs(log_json=True, log_level="DEBUG") as debug:
        await client.get("/healthz")

    assert access_lines(info) == []
    assert [line["route"] for line in access_lines(debug)] == ["/healthz"]


async def test_the_request_id_does_not_outlive_its_request(client):
    await client.get("/fhir/v2/Patient/p1")
    assert "request_id" not in structlog.contextvars.get_contextvars()


async def test_liveness_needs_nothing_and_readiness_waits_for_services(client):
    alive, ready = await client.get("/healthz"), await client.get("/readyz")

    assert alive.status_code == 200 and alive.json() == {"status": "alive"}
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "reason": "starting: services are not open yet"}
