"""The delivery job on procrastinate, and the worker loop that runs it.

Thin on purpose: decode the job, call `service.process`. Several jobs run at once per worker
(async), so DMP latency is hidden; jobs of one patient are serialized by their procrastinate lock.
A worker killed mid-job leaves its job `doing`; `recover_stalled_jobs` puts such jobs back in the
queue once their worker has missed its heartbeats, and `process` resumes from the stored state.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import procrastinate
from psycopg_pool import AsyncConnectionPool

from dmp_gateway.delivery import service
from dmp_gateway.delivery.ports import DeliveryStore, DmpPort, DocumentPort
from dmp_gateway.delivery.retry import RetryPolicy

log = logging.getLogger(__name__)
QUEUE = "delivery"
TASK = "dmp_gateway.deliver"
#: Default for DMPGW_WORKER_STALLED_AFTER_SECONDS: a worker silent for this long is considered dead
#: and its jobs are re-queued.
STALLED_AFTER_SECONDS = 30.0
#: Heartbeats per stalled period: a live worker whose event loop is briefly busy is never taken for dead.
HEARTBEATS_PER_STALLED_PERIOD = 6
#: How often a worker checks that the planner's statistics still match the sizes of the hot tables.
STATISTICS_EVERY_SECONDS = 2.0


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class DeliveryPorts:
    store: DeliveryStore
    dmp: DmpPort
    documents: DocumentPort
    policy: RetryPolicy
    clock: SystemClock = SystemClock()


def make_app(ports: DeliveryPorts) -> procrastinate.App:
    """A procrastinate App whose `deliver` task runs one attempt with these ports."""
    app = procrastinate.App(connector=procrastinate.PsycopgConnector())

    @app.task(name=TASK, queue=QUEUE, pass_context=False)
    async def deliver(request_id: str) -> None:
        try:
            await service.process(request_id, store=ports.store, dmp=ports.dmp, documents=ports.documents,
                                  clock=ports.clock, policy=ports.policy)
        except Exception as exc:
            # A bug must not leave the request stuck mid-way where nobody sees it: log it with its
            # cause, then park the delivery as failed (internal-error) so operators see it and $retry.
            log.exception("delivery of CommunicationRequest/%s crashed", request_id)
            await service.fail_unexpectedly(request_id, exc, store=ports.store, clock=ports.clock)
            raise

    return app


async def _every(seconds: float, step: Callable[[], Awaitable[None]], failed: str) -> None:
    """Forever: run `step`, then wait `seconds`. A failing step is logged and tried again next time: these
    are the worker's maintenance tasks, and none of them may stop it."""
    while True:
        try:
            await step()
        except Exception:  # noqa: BLE001 - logged with its traceback; the next round retries
            log.exception(failed)
        await asyncio.sleep(seconds)


async def recover_stalled_jobs(app: procrastinate.App, *, stalled_after: float = STALLED_AFTER_SECONDS,
                               every: float | None = None, store: DeliveryStore | None = None) -> None:
    """Forever: re-queue the jobs of workers that stopped sending heartbeats (killed, crashed).

    Sweeps every `every` seconds (default: a third of `stalled_after`, at most 10 s), so a dead
    worker's jobs wait at most about `stalled_after` + `every` before running again.
    """

    async def sweep() -> None:
        stalled = await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after)
        for job in stalled:
            log.warning("re-queueing job %s of a stalled worker", job.id)
            await app.job_manager.retry_job(job)
        await app.job_manager.prune_stalled_workers(seconds_since_heartbeat=stalled_after)
        if store is not None:
            # Last safety net: a delivery that needs a job and has none is enqueued again.
            for request_id in await store.requeue_orphans(older_than_seconds=max(60.0, 2 * stalled_after)):
                log.warning("re-enqueued CommunicationRequest/%s, which had no pending job", request_id)

    await _every(every if every is not None else min(10.0, stalled_after / 3), sweep, "stalled-job sweep failed")


async def keep_planner_statistics(store: DeliveryStore, every: float = STATISTICS_EVERY_SECONDS) -> None:
    """Forever: refresh the planner's statistics of tables a burst of requests grew or emptied.

    Without it, a queue that went from empty to thousands of jobs in seconds is fetched with a plan
    made for an empty table, each fetch walking every waiting job, and lookups by id keep plans made
    for a few rows (store/statistics.py).
    """

    async def refresh() -> None:
        if refreshed := await store.refresh_planner_statistics():
            log.debug("planner statistics refreshed", extra={"tables": refreshed})

    await _every(every, refresh, "planner statistics refresh failed")


async def run_worker(app: procrastinate.App, pool: AsyncConnectionPool, *, concurrency: int,
                     wait: bool = True, polling_interval: float = 5.0,
                     stalled_after: float = STALLED_AFTER_SECONDS, store: DeliveryStore | None = None) -> None:
    """Run jobs until cancelled (or, with wait=False, until the queue is empty).

    `stalled_after`: how long without a heartbeat before a worker counts as dead (ours sends one
    every `stalled_after / HEARTBEATS_PER_STALLED_PERIOD` seconds).
    """
    async with app.open_async(pool):
        sweeper = asyncio.create_task(recover_stalled_jobs(app, stalled_after=stalled_after, store=store))
        statistics = asyncio.create_task(keep_planner_statistics(store)) if store is not None else None
        try:
            await app.run_worker_async(queues=[QUEUE], concurrency=concurrency, wait=wait,
                                       install_signal_handlers=False, delete_jobs="successful",
                                       fetch_job_polling_interval=polling_interval,
                                       update_heartbeat_interval=stalled_after / HEARTBEATS_PER_STALLED_PERIOD,
                                       stalled_worker_timeout=stalled_after)
        finally:
            sweeper.cancel()
            if statistics is not None:
                statistics.cancel()
