"""How quickly a dead worker's jobs run again: DMPGW_WORKER_STALLED_AFTER_SECONDS reaches procrastinate."""

import asyncio
from contextlib import asynccontextmanager
from types import SimpleNamespace

from dmp_gateway.config import Settings
from dmp_gateway.delivery import tasks


class FakeJobManager:
    """The three job-manager calls the sweeper makes, recorded."""

    def __init__(self, stalled: list) -> None:
        self.stalled, self.asked, self.retried, self.pruned = stalled, [], [], []

    async def get_stalled_jobs(self, *, seconds_since_heartbeat: float) -> list:
        self.asked.append(seconds_since_heartbeat)
        return self.stalled

    async def retry_job(self, job: object) -> None:
        self.retried.append(job)

    async def prune_stalled_workers(self, *, seconds_since_heartbeat: float) -> list[int]:
        self.pruned.append(seconds_since_heartbeat)
        return []


class FakeApp:
    def __init__(self, stalled: list) -> None:
        self.job_manager = FakeJobManager(stalled)
        self.worker_options: dict = {}

    @asynccontextmanager
    async def open_async(self, pool):  # noqa: ANN001, ANN202
        yield self

    async def run_worker_async(self, **options: object) -> None:
        self.worker_options = options
        for _ in range(3):  # let the sweeper make its first pass
            await asyncio.sleep(0)


async def test_run_worker_uses_the_stalled_delay_for_heartbeats_and_the_sweep():
    dead_workers_job = SimpleNamespace(id=41)
    app = FakeApp(stalled=[dead_workers_job])
    await tasks.run_worker(app, pool=None, concurrency=8, stalled_after=4.0)  # type: ignore[arg-type]
    assert app.worker_options["stalled_worker_timeout"] == 4.0
    assert app.worker_options["update_heartbeat_interval"] == 4.0 / tasks.HEARTBEATS_PER_STALLED_PERIOD
    assert app.job_manager.asked == [4.0] and app.job_manager.pruned == [4.0]
    assert app.job_manager.retried == [dead_workers_job]


async def test_the_default_stays_thirty_seconds_with_a_heartbeat_every_five():
    app = FakeApp(stalled=[])
    await tasks.run_worker(app, pool=None, concurrency=8)  # type: ignore[arg-type]
    assert app.worker_options["stalled_worker_timeout"] == 30.0
    assert app.worker_options["update_heartbeat_interval"] == 5.0
    assert Settings().worker_stalled_after_seconds == tasks.STALLED_AFTER_SECONDS


def test_the_setting_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("DMPGW_WORKER_STALLED_AFTER_SECONDS", "4")
    assert Settings().worker_stalled_after_seconds == 4.0
