"""InMemoryDeliveryStore: the DeliveryStore port in memory, for unit tests of the use case.

Same transitions and the same IllegalTransition as the PostgreSQL store (both use states.py);
"jobs" are a list of (request_id, due time) that a test drains with `run_due`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from dmp_gateway.delivery.model import BuiltDocument, Delivery, Outcome, TimelineEvent
from dmp_gateway.delivery.states import Event, IllegalTransition, State, next_state, sources_of


class InMemoryDeliveryStore:
    def __init__(self) -> None:
        self.deliveries: dict[str, Delivery] = {}
        self.documents: dict[str, BuiltDocument] = {}
        self.timelines: dict[str, list[TimelineEvent]] = {}
        self.outcomes: dict[str, list[Outcome]] = {}
        #: Enqueued jobs: (request_id, not before).
        self.jobs: list[tuple[str, datetime | None]] = []

    def register(self, request_id: str, *, immediate: bool = True, patient_id: str = "p1",
                 workspace_id: str = "w1") -> Delivery:
        event = Event.CREATED_IMMEDIATE if immediate else Event.CREATED_NEEDS_VALIDATION
        state = next_state(State.RECEIVED, event)
        self.deliveries[request_id] = Delivery(request_id, workspace_id, patient_id, state, immediate)
        self.timelines[request_id] = []
        self._log(request_id, State.RECEIVED.value, "ok", {})
        self._log(request_id, state.value, "ok", {})
        if state is State.QUEUED:
            self.jobs.append((request_id, None))
        return self.deliveries[request_id]

    def _log(self, request_id: str, step: str, outcome: str, details: dict) -> None:
        self.timelines[request_id].append(TimelineEvent(datetime.now(UTC), step, outcome, details))

    def _move(self, request_id: str, event: Event, outcome: str, details: dict, **changes: object) -> Delivery:
        current = self.deliveries[request_id]
        if current.state not in sources_of(event):
            raise IllegalTransition(current.state, event)
        new = replace(current, state=next_state(current.state, event), **changes)
        self.deliveries[request_id] = new
        self._log(request_id, new.state.value, outcome, details)
        return new

    async def get(self, request_id: str) -> Delivery:
        return self.deliveries[request_id]

    async def start(self, request_id: str) -> Delivery:
        attempt = self.deliveries[request_id].attempts + 1
        return self._move(request_id, Event.START, "ok", {"attempt": attempt}, attempts=attempt)

    async def transition(self, request_id: str, event: Event, *, details: dict | None = None,
                         outcome: str = "ok") -> Delivery:
        return self._move(request_id, event, outcome, details or {})

    async def save_document(self, request_id: str, built: BuiltDocument, *, details: dict) -> Delivery:
        self.documents[request_id] = built
        return self._move(request_id, Event.CDA_BUILT, "ok", details, unique_id=built.unique_id, has_document=True)

    async def load_document(self, request_id: str) -> BuiltDocument | None:
        return self.documents.get(request_id)

    async def schedule_retry(self, request_id: str, at: datetime, *, details: dict) -> Delivery:
        self.jobs.append((request_id, at))
        return self._move(request_id, Event.TRANSIENT, "retry", details)

    async def finish(self, request_id: str, event: Event, outcome: Outcome, *, details: dict) -> Delivery:
        self.outcomes.setdefault(request_id, []).append(outcome)
        return self._move(request_id, event, "ok" if outcome.delivered else "error", details,
                          reason=outcome.reason, reason_text=outcome.text)

    async def restart(self, request_id: str, event: Event, *, details: dict) -> Delivery:
        changes: dict[str, object] = {"reason": None, "reason_text": None}
        if event is Event.RETRY:
            changes.update(attempts=0, has_document=False)
            self.documents.pop(request_id, None)
        self.jobs.append((request_id, None))
        return self._move(request_id, event, "ok", details, **changes)

    async def cancel(self, request_id: str, *, details: dict) -> Delivery:
        return self._move(request_id, Event.CANCEL, "ok", details)

    async def requeue_orphans(self, older_than_seconds: float = 60.0) -> list[str]:
        return []  # jobs here never vanish: they are a plain list

    async def refresh_planner_statistics(self) -> list[str]:
        return []

    def take_jobs(self) -> list[str]:
        """Every enqueued job, due or not (unit tests run the clock themselves)."""
        jobs = [rid for rid, _ in self.jobs]
        self.jobs.clear()
        return jobs
