"""Benchmark of the DMP connector's CPU and memory costs; prints one JSON object.

    .venv/bin/python benchmarks/dmp_connector.py [--submits N]

- mtom: build + parse of one document of 1 B, 1 MB and 50 MB (seconds, MB/s, peak traced bytes / size);
- submit: full `SoapDmp.submit` (CDA header read, metadata, XAdES, VIHF, MTOM, response parsing) against
  an in-process MockTransport that answers Success: throughput and p50/p99 latency;
- rss_mb: the process's peak resident set size.
No network, no timing assertions (see the brief: performance is measured here, not in tests).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import httpx
from lxml import etree

from dmp_gateway.dmp import namespaces as ns
from dmp_gateway.dmp.certs import load_signing_identity
from dmp_gateway.dmp.client import ConnectorConfig, SoapDmp
from dmp_gateway.dmp.devcerts import generate
from dmp_gateway.dmp.mtom import Part, build_mtom, parse_message
from dmp_gateway.dmp.soap import build_envelope, parse_envelope, serialize
from dmp_gateway.dmp.types import Submission
from dmp_gateway.dmp.vihf import VihfProfile
from dmp_gateway.ins import Ins

KIT_CDA = Path(__file__).resolve().parents[2] / "shared" / "ans-cda-kit" / "ExemplesCDA" / "DOC_NON_STRUCTURE_CDA-R2-N1.xml"
INS = Ins("279035121518989", "1.2.250.1.213.1.4.10")


def bench_mtom(size: int) -> dict:
    document = b"\x00\x01\x02\x03" * (size // 4) + b"x" * (size % 4)
    tracemalloc.start()
    start = time.perf_counter()
    message = build_mtom(b"<e/>", [Part("0.2", document)])
    parsed = parse_message(message.content_type, message.to_bytes())
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert parsed.parts["0.2"] == document
    return {"bytes": size, "seconds": round(elapsed, 4), "mb_per_s": round(size / 1e6 / elapsed, 1) if size > 1e5 else None,
            "peak_over_size": round(peak / max(size, 1), 2)}


def success_handler(request: httpx.Request) -> httpx.Response:
    envelope = parse_envelope(parse_message(request.headers["content-type"], request.content).envelope)
    body = etree.Element(f"{{{ns.RS}}}RegistryResponse", status=ns.RESPONSE_SUCCESS)
    data = serialize(build_envelope(body, action=ns.ACTION_ITI41_RESPONSE, relates_to=envelope.message_id))
    return httpx.Response(200, content=data, headers={"content-type": "application/soap+xml"})


async def bench_submit(count: int) -> dict:
    paths = generate(Path(tempfile.mkdtemp()) / "certs")
    signer = load_signing_identity(paths.sign_cert, paths.sign_key)
    config = ConnectorConfig("https://dmp.bench/services", "1.2.250.1.999.1.1",
                             VihfProfile(structure_id="1120459876", name_id="bench", subject_id="bench"))
    dmp = SoapDmp(client=httpx.AsyncClient(transport=httpx.MockTransport(success_handler)), config=config, signer=signer)
    template = etree.fromstring(KIT_CDA.read_bytes())
    latencies = []
    start = time.perf_counter()
    for n in range(count):
        template.find("{urn:hl7-org:v3}id").set("root", f"1.2.250.1.999.1.1.4.{n + 1}")
        cda = etree.tostring(template, xml_declaration=True, encoding="UTF-8")
        t0 = time.perf_counter()
        await dmp.submit(Submission(INS, cda, f"1.2.250.1.999.1.1.4.{n + 1}"))
        latencies.append(time.perf_counter() - t0)
    total = time.perf_counter() - start
    await dmp.aclose()
    latencies.sort()
    return {"count": count, "cda_bytes": len(cda), "per_second": round(count / total, 1),
            "p50_ms": round(statistics.median(latencies) * 1000, 2),
            "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 2)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--submits", type=int, default=200)
    args = parser.parse_args()
    if not KIT_CDA.exists():
        print(json.dumps({"error": f"{KIT_CDA} missing"}))
        return 1
    result = {
        "mtom": [bench_mtom(size) for size in (1, 1024 * 1024, 50 * 1024 * 1024)],
        "submit": asyncio.run(bench_submit(args.submits)),
        "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
