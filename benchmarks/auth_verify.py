"""TokenVerifier.verify() throughput, with and without the verified-token cache; prints JSON.

    .venv/bin/python benchmarks/auth_verify.py [--tokens 500] [--rounds 5]

"uncached" verifies the signature and claims of every call (cache_size=0); "cached" replays the same
tokens through a warm cache, as an API client reusing its bearer token does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import resource
import statistics
import time
from typing import Literal

from joserfc import jwk

from dmp_gateway.auth.issuer import TokenIssuer
from dmp_gateway.auth.keys import import_signing_key
from dmp_gateway.auth.verifier import TokenVerifier

ISSUER, AUDIENCE = "http://bench.local", "https://dmp-gateway.local/"
SCOPES = ["PATIENT_CREATE", "BINARY_CREATE", "DOCUMENTREFERENCE_CREATE", "COMMUNICATIONREQUEST_CREATE"]


def make_issuer(algorithm: Literal["ES256", "RS256"]) -> TokenIssuer:
    raw = jwk.generate_key("EC", "P-256") if algorithm == "ES256" else jwk.generate_key("RSA", 2048)
    return TokenIssuer(import_signing_key(raw.as_pem(private=True), algorithm), ISSUER, AUDIENCE, 3600)


async def measure(verifier: TokenVerifier, tokens: list[str], rounds: int) -> dict[str, float]:
    latencies: list[float] = []
    started = time.perf_counter()
    for _ in range(rounds):
        for token in tokens:
            t0 = time.perf_counter()
            await verifier.verify(token)
            latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "calls_per_s": round(len(latencies) / elapsed),
        "p50_us": round(statistics.median(latencies) * 1e6, 1),
        "p99_us": round(latencies[int(len(latencies) * 0.99) - 1] * 1e6, 1),
    }


async def run(token_count: int, rounds: int) -> dict[str, object]:
    results: dict[str, object] = {}
    for algorithm in ("ES256", "RS256"):
        issuer = make_issuer(algorithm)
        tokens = [
            issuer.user_token(workspace_id="42", identities=[f"Practitioner/{i}"], scopes=SCOPES, subject=f"u{i}")
            for i in range(token_count)
        ]
        options = {"issuer": ISSUER, "audience": AUDIENCE}
        uncached = TokenVerifier.from_keys([issuer.key], cache_size=0, **options)
        cached = TokenVerifier.from_keys([issuer.key], cache_size=token_count, **options)
        for token in tokens:  # warm the cache
            await cached.verify(token)
        results[algorithm] = {
            "uncached": await measure(uncached, tokens, rounds),
            "cached": await measure(cached, tokens, rounds),
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tokens", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    results = asyncio.run(run(args.tokens, args.rounds))
    print(
        json.dumps(
            {
                "benchmark": "auth_verify",
                "python": platform.python_version(),
                "tokens": args.tokens,
                "calls_per_case": args.tokens * args.rounds,
                "results": results,
                "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
