"""What the delivery use case needs from the outside world, as Protocols.

Real adapters: `store/deliveries.py` (PostgreSQL + procrastinate), `dmp/client.py` (SoapDmp),
`fhir/documents.py` (stored FHIR resources → CDA). In-memory ones: `delivery/memory.py`,
`dmp/memory.py` (InMemoryDmp).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from dmp_gateway.delivery.model import BuiltDocument, Delivery, Outcome, Reason
from dmp_gateway.delivery.states import Event
from dmp_gateway.dmp.types import DmpStatus, FoundDocument, Receipt, Submission
from dmp_gateway.ins import Ins


class Clock(Protocol):
    def now(self) -> datetime: ...


class DmpPort(Protocol):
    async def dmp_status(self, ins: Ins) -> DmpStatus: ...            # TD0.2
    async def submit(self, submission: Submission) -> Receipt: ...    # ITI-41; raises dmp.errors.*
    async def find(self, ins: Ins, unique_id: str) -> FoundDocument | None: ...  # ITI-18


class DocumentProblem(Exception):
    """The request's data cannot make a valid document; `reason` and `text` are for the operator."""

    def __init__(self, reason: Reason, text: str) -> None:
        super().__init__(text)
        self.reason, self.text = reason, text


class DocumentPort(Protocol):
    async def patient_ins(self, request_id: str) -> Ins:
        """The patient's INS for TD0.2; DocumentProblem(INVALID_PATIENT_IDENTITY) when unusable."""

    async def build(self, request_id: str, unique_id: str | None) -> BuiltDocument:
        """The CDA for the request (re-using `unique_id` when one was minted); DocumentProblem on bad data."""


class DeliveryStore(Protocol):
    async def get(self, request_id: str) -> Delivery: ...

    async def start(self, request_id: str) -> Delivery:
        """Begin an attempt: the `start` transition from any runnable state, counting the attempt.

        IllegalTransition when the delivery is in no such state: the job is stale (already handled)."""

    async def transition(self, request_id: str, event: Event, *, details: dict | None = None,
                         outcome: str = "ok") -> Delivery:
        """Move along `event` if the current state allows it (compare-and-set), writing a timeline event."""

    async def save_document(self, request_id: str, built: BuiltDocument, *, details: dict) -> Delivery:
        """Store the CDA and its uniqueId, and take the `cda_built` transition, in one transaction."""

    async def load_document(self, request_id: str) -> BuiltDocument | None: ...

    async def schedule_retry(self, request_id: str, at: datetime, *, details: dict) -> Delivery:
        """Take the `transient` transition and enqueue the next attempt for `at`, in one transaction."""

    async def finish(self, request_id: str, event: Event, outcome: Outcome, *, details: dict) -> Delivery:
        """Take a final transition (accepted / permanent) and record the outcome (Communication) with it."""

    async def restart(self, request_id: str, event: Event, *, details: dict) -> Delivery:
        """An operator's send / retry: take the transition and enqueue a job, in one transaction."""

    async def cancel(self, request_id: str, *, details: dict) -> Delivery: ...

    async def requeue_orphans(self, older_than_seconds: float = 60.0) -> list[str]:
        """Enqueue a job for every delivery that needs one and has none; their request ids."""

    async def refresh_planner_statistics(self) -> list[str]:
        """Keep the planner's statistics close to the tables' sizes; the tables refreshed."""
