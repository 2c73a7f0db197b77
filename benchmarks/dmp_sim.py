"""How many ITI-41 submissions per second the DMP simulator sustains, with every check on.

Starts the simulator (uvicorn, its own process, HTTP or mTLS) on a fresh database, sends pre-built valid
ITI-41 requests (VIHF + XAdES + CDA of the given size, all distinct) with N concurrent clients, checks that
every answer is a RegistryResponse Success, and prints one JSON object per document size:
throughput, latency p50/p99, server RSS. Message building is not timed.

    .venv/bin/python benchmarks/dmp_sim.py                      # 200 KB and 1 MB, HTTP
    .venv/bin/python benchmarks/dmp_sim.py --tls --sizes 200000 --requests 1000 --concurrency 32

Database: DMPGW_TEST_DATABASE_URL if set, else an embedded PostgreSQL in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import socket
import ssl
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
import psutil

from dmp_gateway.config import Settings
from dmp_gateway.dmp_simulator import SimulatorConfig, TlsFiles
from dmp_gateway.dmp_simulator.config import default_cda_kit
from dmp_gateway.dmp_simulator.testkit.messages import Iti41Spec, build_iti41
from dmp_gateway.dmp_simulator.testkit.pki import TestPki
from dmp_gateway.store.db import create_database

REPOSITORY = "/si-dmp-server/v2/services/repository"


def _serve(config: SimulatorConfig, sock: socket.socket) -> None:
    import uvicorn

    from dmp_gateway.dmp_simulator.app import create_app
    from dmp_gateway.dmp_simulator.server import uvicorn_config

    server = uvicorn.Server(uvicorn_config(config, app=create_app(config)))
    asyncio.run(server.serve(sockets=[sock]))


def _cpu(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def _postgres_cpu(pgdata: Path | None) -> float | None:
    """CPU seconds of the embedded PostgreSQL's processes (None with an external server: not measurable)."""
    if pgdata is None or not (pgdata / "postmaster.pid").exists():
        return None
    postmaster = psutil.Process(int((pgdata / "postmaster.pid").read_text().split()[0]))
    total = 0.0
    for proc in [postmaster, *postmaster.children(recursive=True)]:
        try:
            times = proc.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
        except psutil.Error:
            pass
    return total


def _database(admin_url: str) -> str:
    return create_database(admin_url, "dmpsim_bench")


async def _wait_ready(client: httpx.AsyncClient, base_url: str) -> None:
    for _ in range(300):
        try:
            if (await client.get(base_url + "/_sim/health")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the simulator did not start")


async def _load(client: httpx.AsyncClient, url: str, messages: list[tuple[bytes, str]], concurrency: int) -> dict:
    queue = list(reversed(messages))
    latencies: list[float] = []
    failures: list[str] = []

    async def worker() -> None:
        while queue:
            body, content_type = queue.pop()
            started = time.perf_counter()
            response = await client.post(url, content=body, headers={"content-type": content_type})
            latencies.append(time.perf_counter() - started)
            if b"ResponseStatusType:Success" not in response.content:
                failures.append(response.text[-400:])

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "seconds": round(elapsed, 3),
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 1),
        "failures": len(failures),
        "first_failure": failures[0] if failures else None,
    }


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[200_000, 1_000_000], help="CDA sizes in bytes")
    parser.add_argument("--requests", type=int, default=600, help="requests per size (1 MB: a third of it)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--tls", action="store_true", help="mTLS, as the DMP")
    args = parser.parse_args()

    kit = default_cda_kit()
    if kit is None:
        print(json.dumps({"error": "../shared/ans-cda-kit not found"}))
        return 2
    work = Path(tempfile.mkdtemp(prefix="dmpsim-bench-"))
    admin_url = os.environ.get("DMPGW_TEST_DATABASE_URL")
    pgdata = None
    if admin_url is None:
        pgdata = work / "data" / "pg"
        from dmp_gateway.store.embedded import database_url

        admin_url = database_url(Settings(data_dir=work / "data"))
    pki = TestPki.create()
    ca, _ = pki.ca.write(work, "ca")
    server_cert, server_key = pki.server.write(work, "server")
    auth_cert, auth_key = pki.auth.write(work, "auth")
    config = SimulatorConfig(
        database_url=_database(admin_url), trust_anchors=(ca,), cda_kit=kit, db_pool_size=20,
        tls=TlsFiles(server_cert, server_key, ca) if args.tls else None,
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(256)
    port = sock.getsockname()[1]
    process = multiprocessing.get_context("fork").Process(target=_serve, args=(config, sock), daemon=True)
    process.start()
    verify: ssl.SSLContext | bool = False
    if args.tls:
        verify = ssl.create_default_context(cafile=str(ca))
        verify.load_cert_chain(str(auth_cert), str(auth_key))
    base_url = f"{'https' if args.tls else 'http'}://127.0.0.1:{port}"
    template = kit / "ExemplesCDA" / "DOC_NON_STRUCTURE_CDA-R2-N1.xml"
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    results = []
    try:
        async with httpx.AsyncClient(verify=verify, timeout=120, limits=limits) as client:
            await _wait_ready(client, base_url)
            for size in args.sizes:
                count = args.requests if size < 500_000 else max(args.requests // 3, 50)
                now = datetime.now(timezone.utc)
                built = time.perf_counter()
                messages = [build_iti41(pki, template, Iti41Spec(document_size=size, now=now)).to_http() for _ in range(count)]
                built = time.perf_counter() - built
                await _load(client, base_url + REPOSITORY, messages[:8], min(8, args.concurrency))  # warm-up
                before = _cpu(process.pid), _cpu(os.getpid()), _postgres_cpu(pgdata)
                result = await _load(client, base_url + REPOSITORY, messages[8:], args.concurrency)
                after = _cpu(process.pid), _cpu(os.getpid()), _postgres_cpu(pgdata)
                per_request = [None if a is None else round((b - a) / (count - 8) * 1000, 2) for a, b in zip(before, after)]
                stats = (await client.get(base_url + "/_sim/stats")).json()
                results.append({
                    "benchmark": "dmp_sim_iti41", "document_bytes": len(messages[0][0]), "cda_bytes_target": size,
                    "requests": count - 8, "concurrency": args.concurrency, "tls": args.tls,
                    **result, "server_rss_mb": round(psutil.Process(process.pid).memory_info().rss / 2**20, 1),
                    "documents_stored": stats["documents"],
                    "cpu_ms_per_request": dict(zip(("simulator", "load_client", "postgres"), per_request)), "build_ms_per_message": round(built / count * 1000, 1),
                    "cpus": os.cpu_count(),
                })
                print(json.dumps(results[-1]), flush=True)
                del messages
    finally:
        process.terminate()
        process.join(10)
        if pgdata is not None:
            from dmp_gateway.store.embedded import stop_embedded

            stop_embedded()
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(r["failures"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
