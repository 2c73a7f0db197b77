"""Metrics across processes: uvicorn workers sharing PROMETHEUS_MULTIPROC_DIR, a worker's own port."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
from gateway_harness import free_port
from prometheus_client.parser import text_string_to_metric_families

from dmp_gateway import observability
from dmp_gateway.delivery.model import Reason


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


_RECORD = """
import sys
from dmp_gateway import observability
observability.delivery_finished(None)
if sys.argv[1] == "render":
    sys.stdout.write(observability.metrics().render()[0].decode())
"""


def test_multiprocess_mode_adds_up_the_counts_of_every_process(tmp_path):
    """uvicorn --workers N with PROMETHEUS_MULTIPROC_DIR: any process's /metrics shows all of them."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", _RECORD, "record"], env=env, check=True, timeout=60)
    rendered = subprocess.run([sys.executable, "-c", _RECORD, "render"], env=env, check=True, timeout=60,
                              capture_output=True, text=True).stdout

    delivered = frozenset({("outcome", "delivered"), ("reason", "")})
    assert samples(rendered)[("dmpgw_deliveries_finished_total", delivered)] == 2


def test_a_worker_serves_its_delivery_counts_on_its_own_port():
    observability.delivery_finished(Reason.DMP_REJECTED)
    port = free_port()
    server = observability.start_metrics_server(port, host="127.0.0.1")
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).raise_for_status().text
    finally:
        server.shutdown()
        server.server_close()

    rejected = frozenset({("outcome", "failed"), ("reason", "dmp-rejected")})
    assert samples(text)[("dmpgw_deliveries_finished_total", rejected)] >= 1
