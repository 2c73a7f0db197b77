"""End-to-end harness: the real processes on loopback and what tests do with them.

The processes are `dmp_gateway.local_stack.LocalStack` (what `dmp-gateway demo` runs too): the simulator
(`dmp-sim --tls`: mutual TLS, VIHF and XAdES checks), the API (`serve`, no in-process worker) and a
`worker` that tests may SIGKILL and restart, sharing one temporary data dir. On top of it:

    stack = start_e2e_stack()                      # fast retries; a dead worker's jobs resume after ~4 s
    ws = stack.provision()                         # workspace + practitioner + token (Workspace)
    with stack.client(ws.token) as c:
        flow = post_flow(c, ws, nir=OPEN)          # Patient, Binary, DocumentReference, CommunicationRequest
        comm = wait_for_communication(c, flow.request_id)
    stack.sim_documents(unique_id=...)             # what the simulated DMP holds
    stack.set_faults({"busy": 0.3}); stack.clear_faults()
    stack.kill_worker(); stack.restart_worker()
    stack.stop()
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import psycopg

from dmp_gateway.local_stack import FHIR_JSON, LocalStack, Workspace, search_all  # noqa: F401 - re-exported
from dmp_gateway.samples import sample_bytes
from fhir_payloads import document_reference, seed_communication_request, seed_patient

#: INS of the simulator's default patients file (dmp_simulator/patients.yaml).
OPEN, OPEN_2, OPEN_3 = "279035121518989", "162018885045327", "277076322082910"
CLOSED, NO_DMP = "207058575627097", "255069999999934"

#: Settings for every process of the e2e stack: retries in tens of milliseconds instead of minutes,
#: enough attempts that 30 % of failing DMP calls never exhaust them, and a killed worker detected
#: after 4 s instead of 30. The PDF/A conversion has its own tests (integration/cda): here the
#: sample PDF is sent as it is.
E2E_ENV = {
    "DMPGW_RETRY_BASE_DELAY_SECONDS": "0.05",
    "DMPGW_RETRY_MAX_DELAY_SECONDS": "0.4",
    "DMPGW_RETRY_MAX_ATTEMPTS": "20",
    "DMPGW_WORKER_POLLING_SECONDS": "0.1",
    "DMPGW_WORKER_STALLED_AFTER_SECONDS": "4",
    "DMPGW_DMP_READ_TIMEOUT": "10",
    "DMPGW_PDFA_POLICY": "accept",
}
#: Delivery states in which nothing more happens without an operator.
AT_REST = ("delivered", "failed", "cancelled")


class E2EStack(LocalStack):
    """LocalStack plus the simulator's admin API and a look at the delivery table."""

    def sim_documents(self, **query: str) -> list[dict]:
        """Documents the simulated DMP holds (signature entries left out); `unique_id=`, `patient=` filter."""
        with self.sim_client() as sim:
            r = sim.get("/_sim/documents", params=query)
            r.raise_for_status()
        return [d for d in r.json()["documents"] if not d["is_signature"]]

    def sim_content(self, document: dict) -> bytes:
        with self.sim_client() as sim:
            r = sim.get(document["cda_url"])
            r.raise_for_status()
            return r.content

    def sim_stats(self) -> dict:
        with self.sim_client() as sim:
            return sim.get("/_sim/stats").raise_for_status().json()

    def set_faults(self, plan: dict) -> None:
        """Replace the simulator's fault plan (dmp_simulator/faults.py FaultPlan)."""
        with self.sim_client() as sim:
            sim.post("/_sim/faults", json=plan).raise_for_status()

    def clear_faults(self) -> None:
        self.set_faults({})

    def delivery_states(self, workspace_id: str) -> dict[str, str]:
        """request id → delivery state, straight from PostgreSQL (to wait cheaply; assertions use the API)."""
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            rows = conn.execute("select request_id, state from delivery where workspace_id = %s",
                                (workspace_id,)).fetchall()
        return dict(rows)


def start_e2e_stack(**env: str) -> E2EStack:
    """A fresh stack in a temporary data dir (removed by `stop()`), with E2E_ENV plus `env`."""
    data_dir = Path(tempfile.mkdtemp(prefix="dmpgw-e2e-"))
    return E2EStack(data_dir, env={**E2E_ENV, **env}).start()


@dataclass(frozen=True)
class Flow:
    """The ids of one seed flow's resources."""

    patient_id: str
    binary_id: str
    document_reference_id: str
    request_id: str


def _created(r: httpx.Response, what: str) -> str:
    assert r.status_code == 201, f"POST {what}: {r.status_code} {r.text[:1000]}"
    return r.json()["id"]


def post_flow(c: httpx.Client, ws: Workspace, *, nir: str = OPEN, patient: bytes | None = None,
              patient_id: str | None = None, replaces: str | None = None, pdf: bytes | None = None) -> Flow:
    """The seed client's four POSTs (CommunicationRequest with IMMEDIATE_MODE), each checked for 201.

    `patient` replaces the seed Patient built from `nir`; `patient_id` reuses a stored one;
    `replaces` (a DocumentReference id) makes the new DocumentReference replace it (relatesTo).
    """
    if patient_id is None:
        patient_id = _created(c.post("/Patient", content=patient or seed_patient(nir),
                                     headers={"Content-Type": FHIR_JSON}), "Patient")
    binary_id = _created(c.post("/Binary", content=pdf or sample_bytes("compte-rendu.pdf"),
                                headers={"Content-Type": "application/pdf"}), "Binary")
    docref = orjson.loads(document_reference(patient_id, ws.practitioner, binary_id))
    if replaces:
        docref["relatesTo"] = [{"code": "replaces", "target": {"reference": f"DocumentReference/{replaces}"}}]
    docref_id = _created(c.post("/DocumentReference", content=orjson.dumps(docref),
                                headers={"Content-Type": FHIR_JSON}), "DocumentReference")
    request_id = _created(c.post("/CommunicationRequest", content=seed_communication_request(ws, patient_id, docref_id),
                                 headers={"Content-Type": FHIR_JSON}), "CommunicationRequest")
    return Flow(patient_id, binary_id, docref_id, request_id)


def timeline(c: httpx.Client, request_id: str) -> tuple[dict, list[dict]]:
    """`$timeline`: the summary parameters (state, attempts, uniqueId, reason) and the events, oldest first."""
    params = c.get(f"/CommunicationRequest/{request_id}/$timeline").raise_for_status().json()["parameter"]
    def value(element: dict) -> object:
        return next(v for k, v in element.items() if k.startswith("value"))

    summary = {p["name"]: value(p) for p in params if p["name"] != "event"}
    events = [{part["name"]: value(part) for part in p["part"]} for p in params if p["name"] == "event"]
    return summary, events


def wait_until(predicate, timeout: float, what: str, interval: float = 0.2):  # noqa: ANN001, ANN201
    """Poll `predicate()` (real processes: there is no event to wait on) until it returns a truthy value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached after {timeout:.0f} s")
        time.sleep(interval)
