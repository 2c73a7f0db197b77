"""Crash test: 300 requests while the worker is SIGKILLed three times, at random moments, and restarted.

At the end every request is at rest with exactly one Communication (none lost, none doubled), and the
simulated DMP holds each delivered document once: its uniqueIds are exactly those of the completed
Communications. The random moments come from a seed printed on failure; DMPGW_CRASH_SEED replays one.
"""

import os
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from e2e_stack import AT_REST, CLOSED, NO_DMP, OPEN, OPEN_2, OPEN_3, post_flow, search_all, wait_until

REQUESTS = 300
KILLS = 3
CLIENTS = 8
WORKING = ("checking_dmp", "building_cda", "submitting")
EXPECTED = {OPEN: "completed", OPEN_2: "completed", OPEN_3: "completed", CLOSED: "dmp-closed", NO_DMP: "dmp-not-found"}


def kill_at_random_moments(stack, ws, rng: random.Random, posted) -> list[int]:  # noqa: ANN001
    """Three times: wait for a random share of the requests to be posted, then for jobs in flight, SIGKILL
    the worker and start a new one.

    The moments are tied to the clients' progress, not to the clock: a fast machine can deliver all 300
    requests within a few seconds, and a kill after that would find no job in flight to interrupt.
    """
    in_flight_at_kills = []
    span = REQUESTS // (KILLS + 1)
    for k in range(KILLS):
        threshold = rng.randrange(k * span + span // 4, (k + 1) * span)
        wait_until(lambda t=threshold: posted() >= t, 120, f"{threshold} requests posted", interval=0.01)
        busy = wait_until(lambda: sum(s in WORKING for s in stack.delivery_states(ws.id).values()), 60,
                          "jobs in flight", interval=0.02)
        stack.kill_worker()
        in_flight_at_kills.append(busy)
        time.sleep(rng.uniform(0.0, 0.5))
        stack.restart_worker()
    return in_flight_at_kills


def resumed_requests(stack) -> int:  # noqa: ANN001
    """Requests whose processing started more than once (a killed worker's job run again)."""
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        return conn.execute("select count(*) from (select request_id from delivery_event where step = 'checking_dmp'"
                            " group by request_id having count(*) > 1) resumed").fetchone()[0]


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_killing_the_worker_three_times_loses_and_duplicates_nothing(stack, ws):
    seed = int(os.environ.get("DMPGW_CRASH_SEED") or random.SystemRandom().randrange(2**32))
    rng = random.Random(seed)
    nirs = rng.choices(list(EXPECTED), weights=[30, 30, 30, 5, 5], k=REQUESTS)
    local = threading.local()
    count_lock = threading.Lock()
    sent = [0]

    def send(nir: str) -> str:
        if not hasattr(local, "client"):
            local.client = stack.client(ws.token)
        request_id = post_flow(local.client, ws, nir=nir).request_id
        with count_lock:
            sent[0] += 1
        return request_id

    with ThreadPoolExecutor(CLIENTS) as pool:
        futures = [pool.submit(send, nir) for nir in nirs]
        in_flight_at_kills = kill_at_random_moments(stack, ws, rng, lambda: sent[0])
        request_ids = [f.result() for f in futures]
    expected = dict(zip(request_ids, nirs, strict=True))
    context = f"seed {seed}, jobs in flight at the kills: {in_flight_at_kills}"

    def all_at_rest() -> bool:
        states = stack.delivery_states(ws.id)
        return len(states) == REQUESTS and all(s in AT_REST for s in states.values())

    wait_until(all_at_rest, 180, f"every request at rest ({context})")
    with stack.client(ws.token, timeout=60) as fhir:
        comms = search_all(fhir, "Communication")
        requests = {r["id"]: r["status"] for r in search_all(fhir, "CommunicationRequest")}
    per_request = Counter(c["basedOn"][0]["reference"].split("/", 1)[1] for c in comms)
    assert set(per_request) == set(request_ids), context
    assert [rid for rid, n in per_request.items() if n != 1] == [], context
    for comm in comms:
        rid = comm["basedOn"][0]["reference"].split("/", 1)[1]
        got = comm["status"] if comm["status"] == "completed" else comm["notDoneReason"]["coding"][0]["code"]
        assert got == EXPECTED[expected[rid]], (rid, comm.get("notDoneReason"), context)
        assert requests[rid] == ("completed" if got == "completed" else "suspended"), context
    delivered = sorted(c["identifier"][0]["value"] for c in comms if c["status"] == "completed")
    in_dmp = sorted(d["unique_id"] for d in stack.sim_documents())
    assert in_dmp == delivered, context  # once each, and nothing the gateway does not know about
    resumed = resumed_requests(stack)
    print(f"{context}; requests resumed after a kill: {resumed}")  # shown with -s / on failure
    assert resumed >= 1, f"no job was interrupted by the kills ({context})"
