"""Prometheus instruments: HTTP by route template, delivery outcomes, and the text exposition."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from dmp_gateway import observability
from dmp_gateway.delivery.model import Reason
from dmp_gateway.observability import Metrics


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Parse the exposition text (proves it is valid) into {(sample name, labels): value}."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_delivery_outcomes_are_counted_by_reason_with_a_bounded_label_set():
    m = Metrics()
    m.delivery_finished(None)
    m.delivery_finished(Reason.DMP_CLOSED)
    m.delivery_finished("dmp-closed")
    m.delivery_finished("something the DMP said about 279035121518989")

    got = samples(m.render()[0].decode())
    assert got[("dmpgw_deliveries_finished_total", frozenset({("outcome", "delivered"), ("reason", "")}))] == 1
    assert got[("dmpgw_deliveries_finished_total", frozenset({("outcome", "failed"), ("reason", "dmp-closed")}))] == 2
    assert got[("dmpgw_deliveries_finished_total", frozenset({("outcome", "failed"), ("reason", "other")}))] == 1
    assert "279035121518989" not in m.render()[0].decode()


def test_the_module_function_counts_in_the_process_instruments():
    labels = {"outcome": "failed", "reason": "dmp-not-found"}
    before = observability.metrics().registry.get_sample_value("dmpgw_deliveries_finished_total", labels) or 0
    observability.delivery_finished(Reason.DMP_NOT_FOUND)
    assert observability.metrics().registry.get_sample_value("dmpgw_deliveries_finished_total", labels) == before + 1


async def test_metrics_endpoint_serves_http_series_by_route_template_and_says_when_the_database_is_missing():
    app = FastAPI()

    @app.get("/fhir/v2/Binary/{res_id}")
    async def read(res_id: str) -> dict:
        return {}

    observability.install(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
        for res_id in ("a", "b", "c"):
            await client.get(f"/fhir/v2/Binary/{res_id}")
        r = await client.get("/metrics")
        open_metrics = await client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})

    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain; version=0.0.4")
    got = samples(r.text)
    route = frozenset({("method", "GET"), ("route", "/fhir/v2/Binary/{res_id}")})
    assert got[("dmpgw_http_requests_total", route | {("status", "200")})] >= 3
    assert got[("dmpgw_http_request_duration_seconds_count", route)] >= 3
    assert not any("/fhir/v2/Binary/a" in dict(labels).get("route", "") for _, labels in got)
    assert got[("dmpgw_database_up", frozenset())] == 0  # no services on this app
    assert not any(name == "dmpgw_deliveries" for name, _ in got)
    assert open_metrics.headers["content-type"].startswith("application/openmetrics-text; version=1.0.0")
    families = {f.name for f in openmetrics_families(open_metrics.text)}
    assert {"dmpgw_http_requests", "dmpgw_database_up"} <= families
