"""Where one delivery's CPU goes: each phase of `delivery.service.process`, one document at a time.

    .venv/bin/python benchmarks/delivery_phases.py [--documents 200] [--pdf-kb 200]

Starts the product (dmp_gateway.local_stack: embedded PostgreSQL, `dmp-sim --tls`, `serve`), stops
its worker, posts N seed flows (Patient, Binary, DocumentReference, CommunicationRequest with
IMMEDIATE_MODE) one after the other, then runs the delivery use case in this process on the real
ports (PostgreSQL store, SoapDmp over mTLS, FHIR document port), one request at a time, timing each
port call with the process CPU clock. One document at a time means no queueing and no contention:
the numbers are the cost of the work itself, which end_to_end.py's throughput is bounded by.

Prints one JSON object: API CPU per flow (gateway process and PostgreSQL), then per document the CPU of this
worker (total and per phase), of PostgreSQL (all backends) and of the simulator, and the wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from end_to_end import Flows, Run, _cpu_of, benchmark_persons, make_pdfa, persons_file  # noqa: E402
from loadgen import RawClient  # noqa: E402

from dmp_gateway.bootstrap import delivery_ports, open_services  # noqa: E402
from dmp_gateway.delivery import service  # noqa: E402
from dmp_gateway.local_stack import LocalStack  # noqa: E402

WARM_UP = 10


class PhaseClock:
    """Wraps async port methods so each call adds its process CPU and wall time to its phase."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = defaultdict(float)
        self.wall: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def wrap(self, port: object, names: tuple[str, ...], prefix: str) -> None:
        for name in names:
            method = getattr(port, name)

            async def timed(*args, _method=method, _label=f"{prefix}.{name}", **kwargs):  # noqa: ANN002, ANN003
                cpu, wall = time.process_time(), time.perf_counter()
                try:
                    return await _method(*args, **kwargs)
                finally:
                    self.cpu[_label] += time.process_time() - cpu
                    self.wall[_label] += time.perf_counter() - wall
                    self.calls[_label] += 1

            setattr(port, name, timed)

    def reset(self) -> None:
        self.cpu.clear(), self.wall.clear(), self.calls.clear()


async def run(args: argparse.Namespace) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix="dmpgw-phases-"))
    people = benchmark_persons(args.documents + WARM_UP)
    stack = LocalStack(data_dir, sim_args=("--patients", str(persons_file(people, data_dir)))).start()
    try:
        ws = stack.provision()
        stack.kill_worker()
        flows = Flows(stack.gateway_url, ws, make_pdfa(args.pdf_kb * 1024), people)
        posted, client = Run(), RawClient(*flows.addr)
        gateway = [stack.gateway.popen.pid]
        postmaster = [int((stack.data_dir / "pg" / "postmaster.pid").read_text().split()[0])]
        before, pg_before = _cpu_of(gateway), _cpu_of(postmaster, children=True)
        for _ in range(args.documents + WARM_UP):
            await flows.one(client, posted)
        api_ms = (_cpu_of(gateway) - before) / (args.documents + WARM_UP) * 1000
        api_pg_ms = (_cpu_of(postmaster, children=True) - pg_before) / (args.documents + WARM_UP) * 1000
        await client.close()
        if posted.errors:
            raise RuntimeError(f"the API refused flows: {posted.error_samples}")

        services = await open_services(stack.settings, stack.database_url)
        ports = delivery_ports(services)
        # The stopped worker is what keeps the planner's statistics in step with the tables the posts
        # just grew; without it every lookup would run on plans made for empty tables.
        await ports.store.refresh_planner_statistics()
        clock = PhaseClock()
        clock.wrap(ports.store, ("start", "get", "transition", "load_document", "save_document", "finish"), "store")
        clock.wrap(ports.documents, ("patient_ins", "build"), "documents")
        clock.wrap(ports.dmp, ("dmp_status", "submit"), "dmp")
        ids = list(posted.posted)

        async def deliver(request_id: str) -> None:
            done = await service.process(request_id, store=ports.store, dmp=ports.dmp, documents=ports.documents,
                                         clock=ports.clock, policy=ports.policy)
            if done.state.value != "delivered":
                raise RuntimeError(f"CommunicationRequest/{request_id} ended {done.state.value}: {done.reason_text}")

        for request_id in ids[:WARM_UP]:
            await deliver(request_id)
        clock.reset()
        simulator = [stack.simulator.popen.pid]
        pg0, sim0, cpu0, wall0 = _cpu_of(postmaster, children=True), _cpu_of(simulator), time.process_time(), time.perf_counter()
        for request_id in ids[WARM_UP:]:
            await deliver(request_id)
        n = len(ids) - WARM_UP
        per_doc = {
            "worker": (time.process_time() - cpu0) / n * 1000,
            "postgres": (_cpu_of(postmaster, children=True) - pg0) / n * 1000,
            "simulator": (_cpu_of(simulator) - sim0) / n * 1000,
        }
        wall = (time.perf_counter() - wall0) / n * 1000
        await ports.dmp.aclose()
        await services.pool.close()
    finally:
        stack.stop()
    phases = sorted(clock.cpu, key=clock.cpu.get, reverse=True)
    return {
        "benchmark": "delivery_phases", "documents": n, "pdf_bytes": len(flows.binary),
        "api_cpu_ms_per_flow": {"gateway": round(api_ms, 2), "postgres": round(api_pg_ms, 2)},
        "delivery_cpu_ms_per_document": {k: round(v, 2) for k, v in per_doc.items()},
        "delivery_wall_ms_per_document": round(wall, 2),
        "worker_phases": {label: {"calls_per_document": round(clock.calls[label] / n, 2),
                                  "cpu_ms": round(clock.cpu[label] / n * 1000, 2),
                                  "wall_ms": round(clock.wall[label] / n * 1000, 2)} for label in phases},
        "cpus": os.cpu_count(), "loadavg_1m_at_end": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=200)
    parser.add_argument("--pdf-kb", type=int, default=200)
    args = parser.parse_args()
    import uvloop

    uvloop.install()
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main()
