"""FHIR API throughput and latency under N concurrent keep-alive clients; prints one JSON document.

    .venv/bin/python benchmarks/api_throughput.py [--scenario patient-create|mixed|reads]
        [--connections 64] [--duration 10] [--warmup 2] [--workers N] [--client raw|httpx]
        [--url http://127.0.0.1:PORT --token TOKEN]

By default everything is started here and stopped at the end (stack.py): embedded PostgreSQL in a
temporary data dir, a workspace and a token from the CLI, `dmp-gateway serve --workers N`. With
--url the benchmark targets a server already running on loopback, with a token holding the scopes
{PATIENT,BINARY,DOCUMENTREFERENCE,PRACTITIONER}_{CREATE,READ}.

Scenarios: `patient-create` (POST Patient only); `mixed` (each client repeats the seed's sequence:
create Patient, Binary of a 200 KB PDF, DocumentReference pointing at both, then reads all three);
`reads` (GET of pre-created Patients, Binaries and DocumentReferences). Latencies count only requests
completed inside the measured window (after warm-up). CPU is reported for the generator, the gateway
processes and PostgreSQL, so one can see whether the generator takes cores from the server.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import random
import sys
import time
from pathlib import Path

import httpx
import orjson
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import (  # noqa: E402
    HttpxClient,
    RawClient,
    Recorder,
    build_request,
    host_port,
    run_clients,
    timed,
    window,
)
from stack import Stack, start_stack  # noqa: E402

FHIR_JSON = "application/fhir+json"
PATIENT = {"resourceType": "Patient",
           "identifier": [{"system": "http://lifen.fr/fhir/Identifier/patient-nir-od", "value": "279035121518989"}],
           "name": [{"family": "PAT-TROIS", "given": ["Dominique"]}], "gender": "female",
           "birthDate": "1979-03-28", "multipleBirthInteger": 1}


def make_pdf(size: int) -> bytes:
    """A valid one-page PDF of about `size` bytes (incompressible padding as an attached file)."""
    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.attachments["padding.bin"] = pikepdf.AttachedFileSpec(pdf, random.Random(7).randbytes(max(size - 1200, 0)))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def document_reference(patient_id: str, binary_id: str, practitioner: str) -> dict:
    from dmp_gateway.samples import sample_bytes

    raw = sample_bytes("document_reference.json").replace(b"PATIENT_ID", patient_id.encode()) \
        .replace(b"PRACTITIONER_ID", practitioner.encode()).replace(b"BINARY_ID", binary_id.encode())
    return orjson.loads(raw)


class Requests:
    """Pre-built wire requests for one target and token."""

    def __init__(self, url: str, token: str, pdf: bytes) -> None:
        host, port = host_port(url)
        self.host = f"{host}:{port}"
        self.auth = {"Authorization": f"Bearer {token}"}
        self.base = "/fhir/v2"
        self.patient_create = self.post("Patient", orjson.dumps(PATIENT))
        self.binary_create = build_request("POST", f"{self.base}/Binary", self.host,
                                           {**self.auth, "Content-Type": "application/pdf"}, pdf)

    def post(self, rtype: str, body: bytes) -> bytes:
        return build_request("POST", f"{self.base}/{rtype}", self.host,
                             {**self.auth, "Content-Type": FHIR_JSON, "Accept": FHIR_JSON}, body)

    def get(self, rtype: str, res_id: str) -> bytes:
        accept = {} if rtype == "Binary" else {"Accept": FHIR_JSON}
        return build_request("GET", f"{self.base}/{rtype}/{res_id}", self.host, {**self.auth, **accept})


def created_id(location: bytes | None) -> str:
    """The id in a Location of the form {base}/{type}/{id}/_history/{version}."""
    return (location or b"").decode().split("/")[-3]


def seed_fixtures(url: str, token: str, pdf: bytes, count: int) -> dict[str, list[str]]:
    """A Practitioner (DocumentReference.author) and, for reads, `count` of each read resource."""
    ids: dict[str, list[str]] = {"Practitioner": [], "Patient": [], "Binary": [], "DocumentReference": []}
    from dmp_gateway.samples import sample_bytes

    with httpx.Client(base_url=f"{url}/fhir/v2", headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
        def post(rtype: str, content: bytes, ctype: str = FHIR_JSON) -> str:
            r = c.post(f"/{rtype}", content=content, headers={"Content-Type": ctype})
            if r.status_code != 201:
                raise SystemExit(f"setup: POST {rtype} answered {r.status_code}: {r.text[:500]}")
            ids[rtype].append(r.json()["id"])
            return ids[rtype][-1]

        practitioner = post("Practitioner", sample_bytes("practitioner.json"))
        for _ in range(count):
            patient, binary = post("Patient", orjson.dumps(PATIENT)), post("Binary", pdf, "application/pdf")
            post("DocumentReference", orjson.dumps(document_reference(patient, binary, practitioner)))
    return ids


def scenario_session(name: str, req: Requests, fixtures: dict[str, list[str]]):  # noqa: ANN201
    practitioner = fixtures["Practitioner"][0]

    async def patient_create(client, rec: Recorder, deadline: float) -> None:  # noqa: ANN001
        while time.perf_counter() < deadline:
            await timed(client, rec, "patient.create", req.patient_create, 201)

    async def mixed(client, rec: Recorder, deadline: float) -> None:  # noqa: ANN001
        while time.perf_counter() < deadline:
            patient = await timed(client, rec, "patient.create", req.patient_create, 201)
            binary = await timed(client, rec, "binary.create", req.binary_create, 201)
            if patient is None or binary is None:
                continue
            pid, bid = created_id(patient.location), created_id(binary.location)
            body = orjson.dumps(document_reference(pid, bid, practitioner))
            docref = await timed(client, rec, "documentreference.create", req.post("DocumentReference", body), 201)
            await timed(client, rec, "patient.read", req.get("Patient", pid), 200)
            await timed(client, rec, "binary.read", req.get("Binary", bid), 200)
            if docref is not None:
                await timed(client, rec, "documentreference.read",
                            req.get("DocumentReference", created_id(docref.location)), 200)

    reads = [("patient.read", req.get("Patient", i)) for i in fixtures["Patient"]] \
        + [("binary.read", req.get("Binary", i)) for i in fixtures["Binary"]] \
        + [("documentreference.read", req.get("DocumentReference", i)) for i in fixtures["DocumentReference"]]

    async def read_only(client, rec: Recorder, deadline: float) -> None:  # noqa: ANN001
        rng = random.Random()
        while time.perf_counter() < deadline:
            op, raw = rng.choice(reads)
            await timed(client, rec, op, raw, 200)

    return {"patient-create": patient_create, "mixed": mixed, "reads": read_only}[name]


def summarize(latencies: list[float], errors: int, seconds: float) -> dict[str, float | int]:
    ordered = sorted(latencies)
    n = len(ordered)

    def pct(p: float) -> float:
        return round(ordered[min(n - 1, int(p * n))] * 1000, 2) if n else 0.0

    return {"requests": n, "req_per_s": round(n / seconds, 1), "p50_ms": pct(0.50), "p99_ms": pct(0.99),
            "max_ms": pct(1.0), "errors": errors}


class Usage:
    """CPU seconds and RSS of the generator, the gateway processes and PostgreSQL over the window."""

    def __init__(self, stack: Stack | None) -> None:
        self.stack = stack
        self.peak_rss = 0
        self.marks: list[dict[str, float]] = []

    def cpu(self) -> dict[str, float]:
        t = os.times()
        out = {"generator": t.user + t.system, "gateway": 0.0, "postgres": 0.0}
        if self.stack is not None:
            for key, procs in (("gateway", self.stack.gateway_processes()), ("postgres", self.stack.postgres_processes())):
                for p in procs:
                    try:
                        c = p.cpu_times()
                        out[key] += c.user + c.system
                    except psutil.Error:  # a backend that exited meanwhile
                        pass
        return out

    def rss(self) -> int:
        total = 0
        for p in self.stack.gateway_processes() if self.stack else []:
            try:
                total += p.memory_info().rss
            except psutil.Error:  # a process that exited meanwhile
                pass
        return total

    async def watch(self, rec: Recorder) -> None:
        await asyncio.sleep(max(0.0, rec.window_start - time.perf_counter()))
        self.marks.append(self.cpu())
        while time.perf_counter() < rec.window_end:
            self.peak_rss = max(self.peak_rss, self.rss())
            await asyncio.sleep(min(0.5, max(0.0, rec.window_end - time.perf_counter())))
        self.marks.append(self.cpu())

    def report(self, seconds: float, requests: int) -> dict[str, object]:
        start, end = self.marks[0], self.marks[-1]
        if self.stack is None:  # --url: the server's processes are not ours to measure
            start, end = {"generator": start["generator"]}, {"generator": end["generator"]}
        cores = {k: round((end[k] - start[k]) / seconds, 2) for k in start}
        # CPU per request is steadier than req/s on a shared machine: it does not count time spent
        # waiting for a core that another process holds.
        per_request = {k: round((end[k] - start[k]) / max(requests, 1) * 1e6, 1) for k in start}
        out: dict[str, object] = {"cpu_cores": cores, "cpu_us_per_request": per_request}
        if self.stack is not None:
            out["server_rss_mib_peak"] = round(self.peak_rss / 2**20, 1)
            out["server_processes"] = len(self.stack.gateway_processes())
        return out


async def measure(args: argparse.Namespace, stack: Stack | None, url: str, token: str) -> dict[str, object]:
    pdf = make_pdf(200 * 1024)
    fixtures = await asyncio.to_thread(seed_fixtures, url, token, pdf, 20 if args.scenario == "reads" else 0)
    req = Requests(url, token, pdf)
    session = scenario_session(args.scenario, req, fixtures)
    host, port = host_port(url)
    client_cls = RawClient if args.client == "raw" else HttpxClient
    usage = Usage(stack)
    rec, seconds = window(args.warmup, args.duration), args.duration
    await asyncio.gather(run_clients(args.connections, lambda: client_cls(host, port), session, rec), usage.watch(rec))
    ops = {op: summarize(lat, rec.errors.get(op, 0), seconds) for op, lat in sorted(rec.latencies.items())}
    for op, n in rec.errors.items():
        ops.setdefault(op, summarize([], n, seconds))
    everything = [x for lat in rec.latencies.values() for x in lat]
    overall = summarize(everything, sum(rec.errors.values()), seconds)
    return {
        "benchmark": "api_throughput", "scenario": args.scenario, "connections": args.connections,
        "duration_s": args.duration, "warmup_s": args.warmup, "client": args.client,
        "target": "spawned" if stack else url, "workers": args.workers,
        "overall": overall, "operations": ops, **usage.report(seconds, overall["requests"]),
        "error_samples": rec.error_samples,
        "binary_bytes": len(pdf), "python": platform.python_version(), "cpus": os.cpu_count(),
        "loadavg_1m_at_end": round(os.getloadavg()[0], 2),
    }


def run_loop(coro):  # noqa: ANN001, ANN201
    """On uvloop (uvicorn[standard] brings it), as the server does: the generator's CPU is the budget."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return asyncio.run(coro)
    return uvloop.run(coro)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=["patient-create", "mixed", "reads"], default="patient-create")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds (after warm-up)")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=None, help="uvicorn workers (default: DMPGW_WORKERS / config)")
    parser.add_argument("--client", choices=["raw", "httpx"], default="raw", help="load generator client")
    parser.add_argument("--url", help="target a running server (loopback), e.g. http://127.0.0.1:8000")
    parser.add_argument("--token", help="bearer token for --url")
    parser.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra environment for the spawned server (e.g. DMPGW_DB_POOL_MAX=10)")
    args = parser.parse_args()
    if args.url and not args.token:
        parser.error("--url needs --token")
    stack = None
    if args.url:
        host_port(args.url)
        url, token = args.url.rstrip("/"), args.token
    else:
        if args.workers is None:
            from dmp_gateway.config import Settings

            args.workers = Settings().workers
        extra = dict(item.split("=", 1) for item in args.server_env)
        print(f"starting embedded PostgreSQL and dmp-gateway serve --workers {args.workers} ...", file=sys.stderr)
        stack = start_stack(args.workers, extra)
        url, token = stack.url, stack.token
    try:
        print(f"running {args.scenario} with {args.connections} connections for {args.warmup}+{args.duration} s",
              file=sys.stderr)
        result = run_loop(measure(args, stack, url, token))
    finally:
        if stack is not None:
            stack.stop()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
