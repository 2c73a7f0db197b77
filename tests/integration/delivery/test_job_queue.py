"""The job queue stays cheap to fetch from when thousands of deliveries wait (migration 0005,
store/statistics.py).

With statistics from an empty table, procrastinate's fetch query walked every waiting job, each
probe scanning an index that leads with `id`: 600 ms per fetch with 3,000 jobs waiting. These
tests pin the two remedies: the refresh that re-analyzes on drift, and a fetch plan that reads
the queue in order and probes `lock` by index, whatever the backlog.
"""

from __future__ import annotations

import psycopg
from psycopg.conninfo import make_conninfo
import pytest

from dmp_gateway.store.db import open_pool
from dmp_gateway.store.deliveries import PostgresDeliveryStore
from dmp_gateway.store.migrate import migrate

BACKLOG = 3000


@pytest.fixture
def queue_url(database_url):
    migrate(database_url)
    return database_url


def _fill(url: str, jobs: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "insert into procrastinate_jobs (queue_name, task_name, lock, args, status)"
            " select 'delivery', 'dmp_gateway.deliver', 'patient:w:' || g, jsonb_build_object('request_id', g::text),"
            " 'todo' from generate_series(1, %s) g", (jobs,))


def _fetch_plan(url: str) -> str:
    """The plan of procrastinate_fetch_job_v2's candidate query (procrastinate/sql/schema.sql)."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "explain (costs off) with candidate as (select jobs.* from procrastinate_jobs as jobs"
            " where not exists (select 1 from procrastinate_jobs as other_jobs where jobs.lock is not null"
            "  and other_jobs.lock = jobs.lock and (other_jobs.status = 'doing' or (other_jobs.status = 'todo'"
            "  and (other_jobs.priority > jobs.priority or (other_jobs.priority = jobs.priority and other_jobs.id < jobs.id)))))"
            " and jobs.status = 'todo' and jobs.queue_name = any(array['delivery']::varchar[])"
            " and (jobs.scheduled_at is null or jobs.scheduled_at <= now())"
            " order by jobs.priority desc, jobs.id asc limit 1 for update of jobs skip locked) select * from candidate"
        ).fetchall()
    return "\n".join(r[0] for r in rows)


async def test_statistics_are_refreshed_only_when_the_queue_size_drifted(queue_url):
    pool = await open_pool(queue_url, min_size=1, max_size=2)
    try:
        store = PostgresDeliveryStore(pool, effects=None)
        _fill(queue_url, BACKLOG)
        assert "procrastinate_jobs" in await store.refresh_planner_statistics()
        assert await store.refresh_planner_statistics() == []  # statistics now match: nothing to do
        _fill(queue_url, 50)
        assert await store.refresh_planner_statistics() == []  # a small change is within the slack
    finally:
        await pool.close()


async def test_with_fresh_statistics_a_fetch_takes_the_first_job_by_index(queue_url):
    pool = await open_pool(queue_url, min_size=1, max_size=2)
    try:
        _fill(queue_url, BACKLOG)
        await PostgresDeliveryStore(pool, effects=None).refresh_planner_statistics()
    finally:
        await pool.close()
    plan = _fetch_plan(queue_url)
    assert "procrastinate_jobs_priority_idx_v1" in plan, plan  # the queue in order, stopping at the first
    assert "procrastinate_jobs_waiting_lock" in plan, plan  # lock probes are index lookups
    assert "Sort" not in plan and "Seq Scan" not in plan, plan


async def test_pool_options_add_to_those_of_the_url(database_url):
    """The worker's job pool commits asynchronously (bootstrap.run_delivery_worker) without losing
    what the configured URL asks for."""
    url = make_conninfo(database_url, options="-c statement_timeout=12345")
    pool = await open_pool(url, min_size=1, max_size=1, options="-c synchronous_commit=off")
    try:
        async with pool.connection() as conn:
            assert (await (await conn.execute("show synchronous_commit")).fetchone())[0] == "off"
            assert (await (await conn.execute("show statement_timeout")).fetchone())[0] == "12345ms"
    finally:
        await pool.close()


async def test_a_request_gets_its_job_when_stored_only_in_immediate_mode(queue_url):
    pool = await open_pool(queue_url, min_size=1, max_size=2)
    try:
        store = PostgresDeliveryStore(pool, effects=None)
        async with pool.connection() as conn, conn.transaction():
            await store.register(conn, "now", "w", "p1", "d1", immediate=True, lock="ins:w:285057510100102")
            await store.register(conn, "later", "w", "p2", "d2", immediate=False)
    finally:
        await pool.close()
    with psycopg.connect(queue_url) as conn:
        jobs = conn.execute("select args->>'request_id', lock, priority, status from procrastinate_jobs").fetchall()
        states = dict(conn.execute("select request_id, state from delivery").fetchall())
    # The one waiting for an operator's $send has no job until then.
    assert jobs == [("now", "ins:w:285057510100102", 0, "todo")]
    assert states == {"now": "queued", "later": "awaiting_validation"}


async def test_a_request_and_its_delivery_and_job_are_written_by_one_statement(queue_url):
    from dmp_gateway.fhir.interactions import conditional_criteria
    from dmp_gateway.fhir.search_params import index_rows
    from dmp_gateway.store.resources import PostgresResourceStore

    pool = await open_pool(queue_url, min_size=1, max_size=2)
    try:
        resources = PostgresResourceStore(pool)
        cr = {"resourceType": "CommunicationRequest", "status": "active", "subject": {"reference": "Patient/p1"}}
        also = PostgresDeliveryStore.registration("p1", "d1", True, lock="ins:w:285057510100102")
        first = await resources.create("CommunicationRequest", "w", cr, index_rows("CommunicationRequest", cr),
                                       on_write=also)
        # A conditional create that finds the first writes nothing more; one that creates, its delivery too.
        same, created = await resources.conditional_create("CommunicationRequest", "w", cr, index_rows(
            "CommunicationRequest", cr), *conditional_criteria("CommunicationRequest", "subject=Patient/p1"),
            on_write=also)
        other = cr | {"subject": {"reference": "Patient/p2"}}
        second, created_second = await resources.conditional_create(
            "CommunicationRequest", "w", other, index_rows("CommunicationRequest", other),
            *conditional_criteria("CommunicationRequest", "subject=Patient/p2"),
            on_write=PostgresDeliveryStore.registration("p2", "d2", False, lock="patient:w:p2"))
    finally:
        await pool.close()
    assert (same.id, created, created_second) == (first.id, False, True)
    with psycopg.connect(queue_url) as conn:
        deliveries = dict(conn.execute("select request_id, state from delivery").fetchall())
        jobs = conn.execute("select args->>'request_id', lock from procrastinate_jobs").fetchall()
        events = conn.execute("select request_id, step from delivery_event order by id").fetchall()
    assert deliveries == {first.id: "queued", second.id: "awaiting_validation"}
    assert jobs == [(first.id, "ins:w:285057510100102")]
    assert events == [(first.id, "received"), (first.id, "queued"),
                      (second.id, "received"), (second.id, "awaiting_validation")]
