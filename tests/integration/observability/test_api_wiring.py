"""create_app with real services: /readyz against PostgreSQL, /metrics when it is down, errors' request ids."""

from __future__ import annotations

import dataclasses

import httpx
import pytest
from gateway_harness import free_port
from log_capture import captured_logs
from psycopg_pool import AsyncConnectionPool

from dmp_gateway.bootstrap import open_services
from dmp_gateway.config import Settings
from dmp_gateway.fhir.app import create_app
from dmp_gateway.store.migrate import migrate

NIR = "279035121518989"


@pytest.fixture
async def services(database_url, tmp_path):
    migrate(database_url)
    settings = Settings(data_dir=tmp_path, database_url=database_url, serve_runs_worker=False,
                        db_pool_min=1, db_pool_max=2)
    svc = await open_services(settings, database_url)
    yield svc
    await svc.close()


def client_of(app) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://gw")


async def test_ready_when_the_database_answers(services):
    async with client_of(create_app(services.settings, services)) as client:
        r = await client.get("/readyz")

    assert r.status_code == 200 and r.json() == {"status": "ready"}


async def test_not_ready_when_the_database_does_not_answer_in_time(services):
    # A server that refuses connections: the pool keeps trying, the probe gives up at its timeout.
    dead = AsyncConnectionPool(f"host=127.0.0.1 port={free_port()} dbname=x user=x connect_timeout=1",
                               min_size=0, max_size=1, open=False)
    await dead.open(wait=False)
    app = create_app(services.settings, dataclasses.replace(services, pool=dead))
    app.state.readiness_timeout = 0.3
    try:
        async with client_of(app) as client:
            r = await client.get("/readyz")
            alive = await client.get("/healthz")
    finally:
        await dead.close()

    assert r.status_code == 503
    assert r.json() == {"status": "unavailable", "reason": "database: no answer within 0.3 s"}
    assert alive.status_code == 200  # liveness never depends on the database


async def test_a_closed_pool_is_not_ready_and_metrics_say_the_database_is_down(services):
    app = create_app(services.settings, services)
    await services.pool.close()
    async with client_of(app) as client:
        ready = await client.get("/readyz")
        scraped = await client.get("/metrics")

    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "reason": "database: PoolClosed"}
    assert scraped.status_code == 200  # the scrape itself still succeeds
    assert "dmpgw_database_up 0.0" in scraped.text
    assert "dmpgw_deliveries{" not in scraped.text


async def test_an_unexpected_error_is_logged_with_the_request_id_and_counted(services):
    app = create_app(services.settings, services)

    async def crash(request):
        raise RuntimeError(f"a bug while reading the Patient {NIR}")

    app.router.add_route("/fhir/v2/crash", crash, methods=["GET"])
    with captured_logs(log_json=True) as logs:
        async with client_of(app) as client:
            r = await client.get("/fhir/v2/crash", headers={"X-Request-ID": "support-case-9"})

    assert r.status_code == 500 and r.json()["resourceType"] == "OperationOutcome"
    records = logs.records()
    error = next(record for record in records if record["level"] == "error")
    access = next(record for record in records if record["logger"] == "dmp_gateway.access")
    assert error["request_id"] == access["request_id"] == "support-case-9"
    assert "RuntimeError" in error["event"]
    assert (access["route"], access["status"]) == ("/fhir/v2/crash", 500)
    assert "builtins.RuntimeError: <message withheld>" in error["exception"]
    assert NIR not in logs.text()
