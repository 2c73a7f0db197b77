"""How many ITI-41 submissions per second the DMP simulator sustains, with every check on.

Starts the simulator (uvicorn, its own process, HTTP or mTLS) on a fresh database, sends pre-built valid
ITI-41 requests (VIHF + XAdES + CDA of the given size, all distinct) with N concurrent clients, checks that
every answer is HTTP 200 with a RegistryResponse Success, and prints one JSON object per document size:
throughput, latency p50/p99, server RSS, CPU per request of the simulator, the load client and PostgreSQL.
Message building is not timed. The load client is loadgen.RawClient (pre-built HTTP/1.1 bytes on keep-alive
connections, TLS with the ORG_AUTH_CLI certificate under --tls): tens of µs of CPU per request, where
httpx took more than a millisecond of the two cores the simulator needs.

    .venv/bin/python benchmarks/dmp_sim.py                      # 200 KB and 1 MB, HTTP
    .venv/bin/python benchmarks/dmp_sim.py --tls --sizes 200000 --requests 1000 --concurrency 32
    .venv/bin/python benchmarks/dmp_sim.py --workers 2          # two worker processes on one socket

The simulator is the `dmp-gateway dmp-sim` command (uvloop; uvicorn's supervisor with --workers > 1) on the
benchmark's database and test PKI; its CPU and RSS are those of its whole process tree.

Database: DMPGW_TEST_DATABASE_URL if set, else an embedded PostgreSQL in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import ConnectionLost, RawClient, build_request  # noqa: E402

from dmp_gateway.config import Settings
from dmp_gateway.dmp_simulator.config import default_cda_kit
from dmp_gateway.dmp_simulator.testkit.messages import Iti41Spec, build_iti41
from dmp_gateway.dmp_simulator.testkit.pki import TestPki
from dmp_gateway.store.db import create_database

REPOSITORY = "/si-dmp-server/v2/services/repository"


def _start_simulator(work: Path, database_url: str, port: int, tls: bool, workers: int) -> subprocess.Popen:
    """`dmp-gateway dmp-sim` on the benchmark's database, trusting the test CA of `work/certs`."""
    command = [sys.executable, "-m", "dmp_gateway.cli", "dmp-sim", "--port", str(port)]
    command += ["--workers", str(workers)] if workers > 1 else []
    env = {**os.environ, "DMPGW_DATABASE_URL": database_url, "DMPGW_CERTS_DIR": str(work / "certs"),
           "DMPGW_DATA_DIR": str(work / "sim-data")}
    log = work / "dmp-sim.log"
    with log.open("w") as stderr:
        process = subprocess.Popen([*command, *(["--tls"] if tls else [])], env=env, stderr=stderr)
    deadline = time.monotonic() + 180
    while "ready on" not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the simulator did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.2)
    return process


def _tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def _cpu(pid: int, tree: bool = False) -> float:
    total = 0.0
    for proc in _tree(pid) if tree else [psutil.Process(pid)]:
        times = proc.cpu_times()
        total += times.user + times.system
    return total


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


async def _load(port: int, tls: ssl.SSLContext | None, requests: list[bytes], concurrency: int) -> dict:
    """Send pre-built requests on `concurrency` keep-alive connections; every answer must be a Success.
    Each connection first asks /_sim/health which worker process serves it (with --workers, how evenly the
    connections were spread decides how much of the second core is used)."""
    queue = list(reversed(requests))
    latencies: list[float] = []
    failures: list[str] = []
    served_by: list[int] = []
    health = build_request("GET", "/_sim/health", f"127.0.0.1:{port}", {})

    async def worker() -> None:
        client = RawClient("127.0.0.1", port, tls)
        try:
            served_by.append(json.loads((await client.send(health)).body).get("pid", 0))
            while queue:
                raw = queue.pop()
                started = time.perf_counter()
                try:
                    reply = await client.send(raw)
                except (ConnectionLost, OSError) as exc:
                    failures.append(f"{type(exc).__name__}: {exc}")
                    continue
                latencies.append(time.perf_counter() - started)
                if reply.status != 200 or b"ResponseStatusType:Success" not in reply.body:
                    failures.append(f"HTTP {reply.status}: {reply.body[-400:].decode(errors='replace')}")
        finally:
            await client.close()

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
        "connections_per_worker": sorted(Counter(served_by).values(), reverse=True),
    }


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[200_000, 1_000_000], help="CDA sizes in bytes")
    parser.add_argument("--requests", type=int, default=1500, help="requests per size (1 MB: a third of it)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--tls", action="store_true", help="mTLS, as the DMP")
    parser.add_argument("--workers", type=int, default=1, help="simulator worker processes (dmp-sim --workers)")
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
    ca, _ = pki.ca.write(work / "certs", "ca")  # the file names of `dmp-gateway dev-certs`
    pki.server.write(work / "certs", "server")
    auth_cert, auth_key = pki.auth.write(work / "certs", "org-auth-cli")
    port = _free_port()
    process = _start_simulator(work, _database(admin_url), port, args.tls, args.workers)
    tls: ssl.SSLContext | None = None
    if args.tls:
        tls = ssl.create_default_context(cafile=str(ca))
        tls.load_cert_chain(str(auth_cert), str(auth_key))
    base_url = f"{'https' if args.tls else 'http'}://127.0.0.1:{port}"
    template = kit / "ExemplesCDA" / "DOC_NON_STRUCTURE_CDA-R2-N1.xml"
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    results = []
    try:
        async with httpx.AsyncClient(verify=tls or False, timeout=120, limits=limits) as client:
            await _wait_ready(client, base_url)
            for size in args.sizes:
                # Warm-up: two requests per connection, so that the pool's PostgreSQL sessions are open.
                warm = 2 * args.concurrency
                count = warm + (args.requests if size < 500_000 else max(args.requests // 3, 50))
                now = datetime.now(timezone.utc)
                built = time.perf_counter()
                messages = [build_iti41(pki, template, Iti41Spec(document_size=size, now=now)).to_http() for _ in range(count)]
                requests = [build_request("POST", REPOSITORY, f"127.0.0.1:{port}", {"Content-Type": content_type}, body)
                            for body, content_type in messages]
                built = time.perf_counter() - built
                await _load(port, tls, requests[:warm], args.concurrency)
                load_before = os.getloadavg()[0]
                before = _cpu(process.pid, tree=True), _cpu(os.getpid()), _postgres_cpu(pgdata)
                result = await _load(port, tls, requests[warm:], args.concurrency)
                after = _cpu(process.pid, tree=True), _cpu(os.getpid()), _postgres_cpu(pgdata)
                per_request = [None if a is None else round((b - a) / (count - warm) * 1000, 2) for a, b in zip(before, after)]
                stats = (await client.get(base_url + "/_sim/stats")).json()
                results.append({
                    "benchmark": "dmp_sim_iti41", "document_bytes": len(messages[0][0]), "cda_bytes_target": size,
                    "requests": count - warm, "concurrency": args.concurrency, "tls": args.tls, "workers": args.workers,
                    **result, "server_rss_mb": round(sum(p.memory_info().rss for p in _tree(process.pid)) / 2**20, 1),
                    "documents_stored": stats["documents"],
                    "cpu_ms_per_request": dict(zip(("simulator", "load_client", "postgres"), per_request)), "build_ms_per_message": round(built / count * 1000, 1),
                    "cpus": os.cpu_count(), "loadavg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
                })
                print(json.dumps(results[-1]), flush=True)
                del messages, requests
    finally:
        process.send_signal(signal.SIGTERM)  # a graceful stop, of the workers too
        process.wait(60)
        if pgdata is not None:
            from dmp_gateway.store.embedded import stop_embedded

            stop_embedded()
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(r["failures"] == 0 for r in results) else 1


if __name__ == "__main__":
    try:
        import uvloop  # the load client on uvloop, as the server: its CPU is taken from the simulator's two cores
    except ImportError:  # pragma: no cover
        sys.exit(asyncio.run(main()))
    sys.exit(uvloop.run(main()))
