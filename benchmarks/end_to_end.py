"""End-to-end delivery throughput and latency: gateway + worker + simulated DMP; prints one JSON document.

    .venv/bin/python benchmarks/end_to_end.py [--clients 16] [--duration 20] [--rate R] [--latency-ms 500]
        [--server-env KEY=VALUE ...] [--url URL --token T --practitioner Practitioner/ID --sim-url URL
        --certs-dir DIR]

By default the whole product is started here (dmp_gateway.local_stack: embedded PostgreSQL in a temporary
data dir, `dmp-sim --tls`, `serve` and `worker` as separate processes), anew for each run so that both
start from the same empty database, and stopped after it. With --url
it targets a running gateway on loopback, whose simulator (--sim-url, client certificate from
--certs-dir) takes the latency fault; the token must hold {PATIENT,BINARY,DOCUMENTREFERENCE,
COMMUNICATIONREQUEST,COMMUNICATION,ORGANIZATION,DEVICE}_{CREATE,READ,SEARCH} and may send as
--practitioner.

Each of the K clients repeats the seed flow on its own keep-alive connection, each flow for the next of
--persons people (distinct INS, each with an open DMP in the simulator: a person's jobs run one at a time,
as the job lock is their INS): POST Patient, Binary
(200 KB PDF that claims PDF/A-1b, so the default policy sends it unchanged), DocumentReference,
CommunicationRequest (IMMEDIATE_MODE), without waiting for the outcome, for --duration seconds; then the
run waits until every request has its Communication. Two runs: a healthy DMP, then --latency-ms added
to every DMP call (POST /_sim/faults). Per run:

  documents_per_s   delivered documents / (last Communication - first CommunicationRequest POST)
  ingest_flows_per_s  flows the API accepted per second while the clients ran
  latency_ms p50/p99  Communication.sent - the moment the CommunicationRequest POST was sent
  cpu_cores         CPU used per process group over the run (where the two cores went)
  cpu_ms_per_document  the same CPU divided by the requests posted: steadier than documents/s on a
                    machine shared with other work (compare it between runs)
  postgres_cpu_ms_per_document_by_pool  PostgreSQL's share by the backends' application_name: dmpgw (API
                    and worker), dmpgw-jobs (procrastinate), dmp_sim (the simulator's own storage)
  product_cpu_ms_per_document  gateway + worker + PostgreSQL - the simulator's backends: what the product
                    itself costs, the DMP stand-in and the load client left out
"""

from __future__ import annotations

import argparse
import asyncio
import io
import itertools
import json
import os
import platform
import random
import ssl
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import psutil
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import ConnectionLost, RawClient, build_request, host_port  # noqa: E402

from dmp_gateway.demo import (DemoPatient, communication_request_payload, document_reference_payload,  # noqa: E402
                              patient_payload)
from dmp_gateway.dmp_simulator.patients import DmpState, load_patients  # noqa: E402
from dmp_gateway.ins import nir_key  # noqa: E402
from dmp_gateway.local_stack import FHIR_JSON, LocalStack, Workspace, search_all  # noqa: E402

DRAIN_TIMEOUT = 600.0
#: People the flows cycle through: a hospital's documents spread over many patients, and one person's jobs
#: run one at a time (procrastinate lock on the INS), so a single INS would measure one lane.
PERSONS = 2000


def benchmark_persons(n: int) -> list[DemoPatient]:
    """n distinct valid NIRs (women born in May 1985 in Paris, communes 101.., orders 001-999)."""
    people = []
    for i in range(n):
        commune, order = divmod(i, 999)
        first13 = f"2850575{101 + commune:03d}{order + 1:03d}"
        people.append(DemoPatient("benchmark", f"{first13}{nir_key(first13):02d}", "BENCH", f"Personne {i}",
                                  "completed"))
    return people


def persons_file(people: list[DemoPatient], directory: Path) -> Path:
    """A `dmp-sim --patients` file giving each of them an open DMP."""
    path = directory / "benchmark-patients.json"
    path.write_text(json.dumps({"patients": [{"ins": p.ins, "state": "open"} for p in people]}), encoding="utf-8")
    return path


def default_open_persons() -> list[DemoPatient]:
    """--url mode: the simulator's default open patients (few: start it with a persons_file for more lanes)."""
    return [DemoPatient("benchmark", r.ins, "BENCH", "Personne", "completed")
            for r in load_patients() if r.state is DmpState.OPEN]


def make_pdfa(size: int) -> bytes:
    """A one-page PDF of about `size` bytes (an incompressible image) whose XMP claims PDF/A-1b."""
    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    side = int(max(size - 2000, 1) ** 0.5)
    image = pikepdf.Stream(pdf, random.Random(7).randbytes(side * side))
    image.Type, image.Subtype, image.Width, image.Height = pikepdf.Name.XObject, pikepdf.Name.Image, side, side
    image.ColorSpace, image.BitsPerComponent = pikepdf.Name.DeviceGray, 8
    page = pdf.pages[0]
    page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
    page.Contents = pikepdf.Stream(pdf, b"q 400 0 0 400 97 221 cm /Im0 Do Q")
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["pdfaid:part"], meta["pdfaid:conformance"], meta["dc:title"] = "1", "B", "Compte rendu"
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def created_id(location: bytes | None) -> str:
    """The id in a Location of the form {base}/{type}/{id}/_history/{version}."""
    return (location or b"").decode().split("/")[-3]


@dataclass
class Run:
    """What one run's clients did."""

    #: CommunicationRequest id → wall-clock time its POST was sent.
    posted: dict[str, float] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    error_samples: dict[str, str] = field(default_factory=dict)


class Flows:
    """Pre-built wire requests of the seed flow for one workspace."""

    def __init__(self, url: str, ws: Workspace, pdf: bytes, people: list[DemoPatient]) -> None:
        host, port = host_port(url)
        self.addr, self.host, self.ws = (host, port), f"{host}:{port}", ws
        self.json_headers = {"Authorization": f"Bearer {ws.token}", "Content-Type": FHIR_JSON, "Accept": FHIR_JSON}
        self.patients = itertools.cycle([self.post("Patient", patient_payload(p)) for p in people])
        self.binary = build_request("POST", "/fhir/v2/Binary", self.host,
                                    {"Authorization": f"Bearer {ws.token}", "Content-Type": "application/pdf"}, pdf)

    def post(self, resource_type: str, body: bytes) -> bytes:
        return build_request("POST", f"/fhir/v2/{resource_type}", self.host, self.json_headers, body)

    async def one(self, client: RawClient, run: Run) -> None:
        patient = await _created(client, run, "Patient", next(self.patients))
        binary = await _created(client, run, "Binary", self.binary)
        if patient is None or binary is None:
            return
        docref = await _created(client, run, "DocumentReference",
                                self.post("DocumentReference", document_reference_payload(self.ws, patient, binary)))
        if docref is None:
            return
        sent_at = time.time()
        body = communication_request_payload(self.ws, patient, docref)
        request = await _created(client, run, "CommunicationRequest", self.post("CommunicationRequest", body))
        if request is not None:
            run.posted[request] = sent_at


async def _created(client: RawClient, run: Run, what: str, raw: bytes) -> str | None:
    try:
        reply = await client.send(raw)
    except (ConnectionLost, OSError) as exc:
        reply, problem = None, f"{type(exc).__name__}: {exc}"
    if reply is not None and reply.status == 201:
        return created_id(reply.location)
    if reply is not None:
        problem = f"HTTP {reply.status}: {reply.body[:300].decode(errors='replace')}"
    run.errors[what] = run.errors.get(what, 0) + 1
    run.error_samples.setdefault(what, problem)
    return None


async def drive(flows: Flows, clients: int, duration: float, rate: float | None = None) -> tuple[Run, float]:
    """K clients repeat the flow until `duration` has passed (at most `rate` flows/s in all, when given);
    returns what they did and how long they ran."""
    run, started = Run(), time.monotonic()
    deadline, slots = started + duration, itertools.count()

    async def client_loop() -> None:
        client = RawClient(*flows.addr)
        try:
            while time.monotonic() < deadline:
                if rate:
                    await asyncio.sleep(max(0.0, started + next(slots) / rate - time.monotonic()))
                await flows.one(client, run)
        finally:
            await client.close()

    await asyncio.gather(*(client_loop() for _ in range(clients)))
    return run, time.monotonic() - started


def outcomes(c: httpx.Client, expected: int) -> list[dict]:
    """Wait until the workspace holds `expected` Communications, then return them all."""
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while c.get("/Communication", params={"_count": "0"}).json()["total"] < expected:
        if time.monotonic() > deadline:
            raise SystemExit(f"the deliveries did not all end within {DRAIN_TIMEOUT:.0f} s")
        time.sleep(0.5)
    return search_all(c, "Communication")


def percentiles(values: list[float]) -> dict[str, float]:
    ordered, n = sorted(values), len(values)

    def pct(p: float) -> float:
        return round(ordered[min(n - 1, int(p * n))] * 1000, 1) if n else 0.0

    return {"p50": pct(0.50), "p90": pct(0.90), "p99": pct(0.99), "max": pct(1.0)}


class Cpu:
    """CPU seconds of the generator and of each stack process group (with children: PostgreSQL backends)."""

    def __init__(self, stack: LocalStack | None) -> None:
        self.stack = stack

    def sample(self) -> dict[str, float]:
        t = os.times()
        out = {"generator": t.user + t.system}
        if self.stack is None:
            return out
        groups = {"gateway": self.stack.gateway, "worker": self.stack.worker, "simulator": self.stack.simulator}
        for name, process in groups.items():
            out[name] = _cpu_of([process.popen.pid] if process else [])
        pidfile = self.stack.data_dir / "pg" / "postmaster.pid"
        out["postgres"] = _cpu_of([int(pidfile.read_text().split()[0])] if pidfile.exists() else [], children=True)
        return out

    def postgres_by_client(self) -> dict[str, float]:
        """CPU seconds of the live PostgreSQL backends by `application_name` (store.db names each pool)."""
        if self.stack is None:
            return {}
        with psycopg.connect(self.stack.database_url, autocommit=True) as conn:
            rows = conn.execute("select pid, application_name from pg_stat_activity where backend_type = 'client backend'"
                                " and pid <> pg_backend_pid()").fetchall()
        out: dict[str, float] = defaultdict(float)
        for pid, name in rows:
            out[name or "other"] += _cpu_of([pid])
        return dict(out)


def _cpu_of(pids: list[int], children: bool = False) -> float:
    total = 0.0
    for pid in pids:
        try:
            root = psutil.Process(pid)
            for p in [root, *(root.children(recursive=True) if children else [])]:
                c = p.cpu_times()
                total += c.user + c.system + (c.children_user + c.children_system if not children else 0.0)
        except psutil.Error:
            pass
    return total


def measure(url: str, ws: Workspace, fhir: httpx.Client, pdf: bytes, people: list[DemoPatient],
            args: argparse.Namespace, cpu: Cpu) -> dict:
    before, pg_before = cpu.sample(), cpu.postgres_by_client()
    run, ran = asyncio.run(drive(Flows(url, ws, pdf, people), args.clients, args.duration, args.rate))
    comms = outcomes(fhir, len(run.posted))
    after, pg_after = cpu.sample(), cpu.postgres_by_client()
    per_document = ({k: round((after[k] - before[k]) / len(run.posted) * 1000, 1) for k in after}
                    if run.posted else {})
    pg_per_document = ({k: round((v - pg_before.get(k, 0.0)) / len(run.posted) * 1000, 2) for k, v in pg_after.items()}
                       if run.posted else {})
    ended = {c["basedOn"][0]["reference"].split("/", 1)[1]: c for c in comms}
    done_at = {rid: datetime.fromisoformat(c.get("sent") or c["received"]).timestamp() for rid, c in ended.items()}
    latencies = [done_at[rid] - sent for rid, sent in run.posted.items() if rid in done_at]
    delivered = sum(c["status"] == "completed" for c in comms)
    span = max(done_at.values()) - min(run.posted.values()) if run.posted else 0.0
    return {
        "requests": len(run.posted), "delivered": delivered, "failed": len(comms) - delivered,
        "documents_per_s": round(delivered / span, 1) if span else 0.0,
        "ingest_flows_per_s": round(len(run.posted) / ran, 1),
        "latency_ms": percentiles(latencies),
        "span_s": round(span, 1), "clients_ran_s": round(ran, 1),
        "cpu_cores": {k: round((after[k] - before[k]) / span, 2) for k in after} if span else {},
        "cpu_ms_per_document": per_document,
        # The backends open at both ends of the run, by pool: what the simulator's own storage costs
        # PostgreSQL, and so what the product (gateway, worker and their PostgreSQL) costs without the DMP
        # stand-in and the load client, which share these cores only because there is no other machine.
        "postgres_cpu_ms_per_document_by_pool": pg_per_document,
        "product_cpu_ms_per_document": (round(per_document["gateway"] + per_document["worker"] + per_document["postgres"]
                                              - pg_per_document.get("dmp_sim", 0.0), 1)
                                        if "worker" in per_document else None),
        "client_errors": run.errors, "error_samples": run.error_samples,
        "failure_reasons": sorted({c["notDoneReason"]["coding"][0]["code"]
                                   for c in comms if c["status"] != "completed"}),
    }


def sim_client(args: argparse.Namespace, stack: LocalStack | None) -> httpx.Client:
    if stack is not None:
        return stack.sim_client()
    from dmp_gateway.dmp.certs import CertPaths, client_ssl_context

    verify: ssl.SSLContext | bool = True
    if args.certs_dir:
        verify = client_ssl_context(CertPaths.in_dir(Path(args.certs_dir)))
    return httpx.Client(base_url=args.sim_url, verify=verify, timeout=30)


def workspace_of(args: argparse.Namespace, fhir: httpx.Client) -> Workspace:
    """--url mode: the token's workspace Organization and DMP Device, found by search."""
    org = fhir.get("/Organization").raise_for_status().json()["entry"][0]["resource"]["id"]
    device = fhir.get("/Device").raise_for_status().json()["entry"][0]["resource"]["id"]
    return Workspace("", f"Organization/{org}", f"Device/{device}", args.practitioner, args.token)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16, help="concurrent client flows (K)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds the clients post, per run")
    parser.add_argument("--rate", type=float, default=None,
                        help="at most this many flows/s in all (default: as fast as the API accepts them); below "
                             "the delivery capacity, the latencies are the pipeline's own, without queueing")
    parser.add_argument("--latency-ms", type=float, default=500.0, help="DMP latency of the second run")
    parser.add_argument("--pdf-kb", type=int, default=200)
    parser.add_argument("--persons", type=int, default=PERSONS,
                        help="distinct people (INS) the flows cycle through, each with an open DMP (not with --url: "
                             "there, the simulator's default open patients)")
    parser.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra DMPGW_* for the spawned processes (e.g. DMPGW_WORKER_CONCURRENCY=64)")
    parser.add_argument("--url", help="a running gateway on loopback, e.g. http://127.0.0.1:8000")
    parser.add_argument("--token")
    parser.add_argument("--practitioner", help="Practitioner/ID the token may send as (--url)")
    parser.add_argument("--sim-url", help="its simulator, e.g. https://127.0.0.1:9443 (--url)")
    parser.add_argument("--certs-dir", help="DMPGW_CERTS_DIR holding the client certificate for --sim-url")
    args = parser.parse_args()
    if args.url and not (args.token and args.practitioner and args.sim_url):
        parser.error("--url needs --token, --practitioner and --sim-url")
    import uvloop

    uvloop.install()
    pdf = make_pdfa(args.pdf_kb * 1024)
    people = default_open_persons() if args.url else benchmark_persons(args.persons)
    env = dict(item.split("=", 1) for item in args.server_env)
    url = args.url.rstrip("/") if args.url else None
    results = {}
    for name, plan in (("healthy_dmp", {}), (f"dmp_latency_{args.latency_ms:.0f}ms", {"latency_ms": args.latency_ms})):
        # Each run on a stack of its own: a second run on the first one's database found tables twice as
        # large and the first run's dead rows to vacuum, and PostgreSQL took 1.5-3.5 ms more CPU per
        # document whatever the DMP latency (measured with two healthy runs in a row).
        stack = None
        if not args.url:
            print("starting PostgreSQL, simulator, gateway and worker ...", file=sys.stderr)
            data_dir = Path(tempfile.mkdtemp(prefix="dmpgw-e2e-bench-"))
            stack = LocalStack(data_dir, env=env, sim_args=("--patients", str(persons_file(people, data_dir)))).start()
        try:
            with sim_client(args, stack) as sim:
                sim.post("/_sim/faults", json=plan).raise_for_status()
                ws = stack.provision() if stack else None
                token = ws.token if ws else args.token
                run_url = url or stack.gateway_url
                with httpx.Client(base_url=f"{run_url}/fhir/v2", headers={"Authorization": f"Bearer {token}"},
                                  timeout=60) as fhir:
                    ws = ws or workspace_of(args, fhir)
                    print(f"run {name}: {args.clients} clients for {args.duration:.0f} s ...", file=sys.stderr)
                    results[name] = measure(run_url, ws, fhir, pdf, people, args, Cpu(stack))
                sim.post("/_sim/faults", json={}).raise_for_status()
        finally:
            if stack is not None:
                stack.stop()
    healthy, slow = results["healthy_dmp"]["documents_per_s"], list(results.values())[1]["documents_per_s"]
    print(json.dumps({
        "benchmark": "end_to_end", "clients": args.clients, "duration_s": args.duration, "pdf_bytes": len(pdf),
        "rate_limit_flows_per_s": args.rate, "persons": len(people),
        "target": url if args.url else "spawned (dmp_gateway.local_stack), a new stack per run",
        "server_env": args.server_env,
        "runs": results, "latency_run_vs_healthy": round(slow / healthy, 2) if healthy else None,
        "python": platform.python_version(), "cpus": os.cpu_count(), "loadavg_1m_at_end": round(os.getloadavg()[0], 2),
    }, indent=2))


if __name__ == "__main__":
    main()
