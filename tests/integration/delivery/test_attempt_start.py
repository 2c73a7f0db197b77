"""`start` on PostgreSQL: one compare-and-set from the runnable states, the attempt counted in SQL.

The worker no longer reads a delivery before starting it, so the statement itself must refuse a stale
job (a delivery already final or waiting for a human) and write nothing for it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dmp_gateway.delivery.model import Outcome
from dmp_gateway.delivery.states import Event, IllegalTransition, State
from dmp_gateway.store.db import open_pool
from dmp_gateway.store.deliveries import PostgresDeliveryStore
from dmp_gateway.store.migrate import migrate


class NoEffects:
    """The FHIR side is not under test here: record that it was called."""

    def __init__(self) -> None:
        self.starts: list[tuple[str, int]] = []

    async def started(self, conn, delivery, request=None) -> None:  # noqa: ANN001
        self.starts.append((delivery.request_id, delivery.attempts))

    async def finished(self, conn, delivery, outcome) -> None:  # noqa: ANN001
        pass

    async def cancelled(self, conn, delivery) -> None:  # noqa: ANN001
        pass


@pytest.fixture
async def store(database_url):
    migrate(database_url)
    pool = await open_pool(database_url, min_size=1, max_size=4)
    yield PostgresDeliveryStore(pool, effects=NoEffects())
    await pool.close()


async def _register(store: PostgresDeliveryStore, request_id: str, *, immediate: bool = True) -> None:
    async with store.pool.connection() as conn, conn.transaction():
        await store.register(conn, request_id, "ws", "p-" + request_id, "d-" + request_id, immediate=immediate)


async def test_each_start_counts_an_attempt_and_logs_its_number(store):
    await _register(store, "s1")
    first = await store.start("s1")
    assert (first.state, first.attempts) == (State.CHECKING_DMP, 1)
    # A worker killed mid-attempt: the job runs again from the working state.
    second = await store.start("s1")
    assert (second.state, second.attempts) == (State.CHECKING_DMP, 2)
    timeline = await store.timeline("s1")
    assert [(e.step, e.details) for e in timeline if e.step == State.CHECKING_DMP.value] == [
        ("checking_dmp", {"attempt": 1}), ("checking_dmp", {"attempt": 2})]
    assert store.effects.starts == [("s1", 1), ("s1", 2)]


@pytest.mark.parametrize("immediate", [True, False])
async def test_a_stale_job_is_refused_and_writes_nothing(store, immediate):
    request_id = f"s-{immediate}"
    await _register(store, request_id, immediate=immediate)
    if immediate:  # delivered already: a duplicate job must not start it again
        await store.start(request_id)
        for event in (Event.DMP_OPEN, Event.CDA_BUILT):
            async with store.pool.connection() as conn:
                await store._move(conn, request_id, event, "ok", {})
        await store.finish(request_id, Event.ACCEPTED, Outcome(delivered=True, at=datetime.now(UTC), unique_id="1.2.3"),
                           details={})
    before = (await store.get(request_id), await store.timeline(request_id), list(store.effects.starts))
    with pytest.raises(IllegalTransition) as caught:
        await store.start(request_id)
    assert caught.value.state is (State.DELIVERED if immediate else State.AWAITING_VALIDATION)
    assert (await store.get(request_id), await store.timeline(request_id), store.effects.starts) == before


