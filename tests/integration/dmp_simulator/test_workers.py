"""Several worker processes (`dmp-sim --workers N`) share one fault plan and one set of counters in PostgreSQL:
a plan posted to one worker applies in the others, a `next` script is consumed once across them, the counters
add up, and a reset through any worker resets them all.

The in-process tests run two apps on one database (they share nothing else, like two processes); the last one
starts the real command with two workers and tells them apart by the pid `/_sim/health` reports.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import httpx
import pytest

from dmp_gateway.dmp_simulator import FaultPlan, create_app
from dmp_gateway.dmp_simulator import rejections as codes
from dmp_gateway.dmp_simulator.state import publish_startup_state
from dmp_gateway.dmp_simulator.testkit.messages import (
    Iti41Spec,
    build_iti41,
    td02_request,
)

from .conftest import ready_line

INS = "279035121518989"


@pytest.fixture
async def two_workers(make_config, database_url):
    """Two apps in shared-state mode on a fresh database, as `server.run` prepares it for its workers."""
    config = make_config(database_url=database_url, workers=2, faults=FaultPlan(latency_ms=0))
    await publish_startup_state(database_url, config.faults)
    apps = [create_app(config), create_app(config)]
    clients = [httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://dmp-sim") for app in apps]
    yield clients
    for client, app in zip(clients, apps):
        await client.aclose()
        await app.state.simulator.aclose()


async def test_a_script_posted_to_one_worker_is_consumed_once_by_all(two_workers, pki, cda_template, send_to):
    first, second = two_workers
    plan = {"next": ["busy", "http_500"], "services": ["repository"], "timeout_seconds": 12}
    assert (await first.post("/_sim/faults", json=plan)).status_code == 200

    busy = await send_to(second, build_iti41(pki, cda_template))
    failed = await send_to(first, build_iti41(pki, cda_template))
    served = await send_to(second, build_iti41(pki, cda_template, Iti41Spec()))

    assert busy.error_codes == [codes.REPOSITORY_BUSY]
    assert failed.http.status_code == 500 and failed.envelope is None
    assert served.success
    shown = (await second.get("/_sim/faults")).json()
    assert shown["next"] == [] and shown["timeout_seconds"] == 12 and shown["services"] == ["repository"]


async def test_counters_add_up_across_workers_and_reset_everywhere(two_workers, pki, cda_template, send_to):
    first, second = two_workers
    await send_to(first, build_iti41(pki, cda_template))
    await send_to(second, build_iti41(pki, cda_template))
    await send_to(second, td02_request(pki, INS))
    spec = Iti41Spec()
    await send_to(first, build_iti41(pki, cda_template, spec))
    duplicate = await send_to(second, build_iti41(pki, cda_template, Iti41Spec(document_uid=spec.document_uid)))
    assert duplicate.error_codes == [codes.DUPLICATE_UNIQUE_ID_IN_REGISTRY]

    expected = {
        "requests": {"repository": 4, "patients": 1}, "faults": {},
        "iti41": {"accepted": 3, f"rejected.{codes.DUPLICATE_UNIQUE_ID_IN_REGISTRY}": 1}, "documents": 3,
    }
    assert (await first.get("/_sim/stats")).json() == expected
    assert (await second.get("/_sim/stats")).json() == expected

    await first.post("/_sim/faults", json={"busy": 1.0})
    await second.post("/_sim/reset")
    assert (await first.get("/_sim/stats")).json() == {"requests": {}, "faults": {}, "iti41": {}, "documents": 0}
    assert (await first.get("/_sim/faults")).json()["busy"] == 0
    assert (await send_to(first, build_iti41(pki, cda_template))).success


async def test_injected_faults_are_counted_for_all_workers(two_workers, pki, send_to):
    first, second = two_workers
    await first.post("/_sim/faults", json={"busy": 1.0, "services": ["patients"]})
    answers = [await send_to(client, td02_request(pki, INS)) for client in (first, second, second)]
    assert [a.fault_code for a in answers] == ["soap:Receiver"] * 3
    stats = (await first.get("/_sim/stats")).json()
    assert stats["faults"] == {"busy": 3} and stats["requests"] == {"patients": 3}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pinned_clients(base_url: str) -> dict[int, httpx.Client]:
    """One keep-alive client per worker process: new connections until two answered from different pids."""
    clients: dict[int, httpx.Client] = {}
    for _ in range(200):
        client = httpx.Client(base_url=base_url, timeout=20, limits=httpx.Limits(max_connections=1))
        pid = client.get("/_sim/health").json()["pid"]
        if pid in clients:
            client.close()
        else:
            clients[pid] = client
        if len(clients) == 2:
            return clients
    raise AssertionError(f"200 connections were all served by the worker(s) {sorted(clients)}")


def test_dmp_sim_with_two_worker_processes(tmp_path, database_url, pki):
    pki.ca.write(tmp_path / "certs", "ca")
    port = _free_port()
    env = {**os.environ, "DMPGW_DATA_DIR": str(tmp_path / "data"), "DMPGW_CERTS_DIR": str(tmp_path / "certs"),
           "DMPGW_DATABASE_URL": database_url}
    process = subprocess.Popen([sys.executable, "-m", "dmp_gateway.cli", "dmp-sim", "--port", str(port), "--workers", "2"],
                               env=env, stderr=subprocess.PIPE, text=True)
    clients: dict[int, httpx.Client] = {}
    try:
        line = ready_line(process.stderr)  # the supervisor says when both workers have started
        assert "ready on http://127.0.0.1:" in line and "(2 workers)" in line, line
        clients = _pinned_clients(f"http://127.0.0.1:{port}")
        first, second = clients.values()
        assert first.post("/_sim/faults", json={"busy": 1.0, "services": ["patients"]}).status_code == 200
        body, content_type = td02_request(pki, INS).to_http()
        for client in (second, second, first):
            answer = client.post("/si-dmp-server/v2/services/patients", content=body,
                                 headers={"content-type": content_type})
            assert answer.status_code == 500 and b"busy" in answer.content
        for client in (first, second):
            stats = client.get("/_sim/stats").json()
            assert stats["requests"] == {"patients": 3} and stats["faults"] == {"busy": 3}
    finally:
        for client in clients.values():
            client.close()
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
    assert code == 0
