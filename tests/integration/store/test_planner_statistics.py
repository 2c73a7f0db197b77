"""Cached generic plans follow the tables as they grow from empty (store/statistics.py).

A prepared lookup planned on an empty table scans it sequentially; once the table holds thousands
of rows that plan reads every page per call. `refresh` ANALYZEs drifted tables, which invalidates the
cached plan, so the next execution is planned again, on the index.
"""

from __future__ import annotations

import psycopg
import pytest

from dmp_gateway.store import statistics
from dmp_gateway.store.migrate import migrate

ROWS = 5000
_LOOKUP = "select content from fhir_resource where res_type = $1 and id = $2 and is_current"


@pytest.fixture
def url(database_url):
    migrate(database_url)
    return database_url


def _grow(conn: psycopg.Connection, rows: int) -> None:
    conn.execute(
        "insert into fhir_resource (res_type, id, version, workspace_id, last_updated, is_current, content)"
        " select 'Patient', g::text, 1, 'w', now(), true, json_build_object('resourceType', 'Patient', 'pad', repeat('x', 400))"
        " from generate_series(1, %s) g", (rows,))


def _cached_plan(conn: psycopg.Connection) -> str:
    return "\n".join(r[0] for r in conn.execute("explain (costs off) execute lookup('Patient', '17')").fetchall())


def test_a_generic_plan_made_on_an_empty_table_is_replaced_once_it_grew(url):
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("set plan_cache_mode = force_generic_plan")
        conn.execute(f"prepare lookup(text, text) as {_LOOKUP}")
        conn.execute("analyze fhir_resource")  # statistics of an empty table, as on a new installation
        assert "Seq Scan" in _cached_plan(conn)
        _grow(conn, ROWS)
        assert "Seq Scan" in _cached_plan(conn)  # what the gateway's connections kept before the refresh
        conn.execute("select pg_stat_force_next_flush()")
        assert "fhir_resource" in _refresh(url)
        plan = _cached_plan(conn)
        assert "Index Scan using fhir_resource_current" in plan, plan


def test_tables_are_analyzed_again_only_after_they_doubled(url):
    with psycopg.connect(url, autocommit=True) as conn:
        _grow(conn, ROWS)
        conn.execute("select pg_stat_force_next_flush()")
        assert "fhir_resource" in _refresh(url)
        assert _refresh(url) == []
        conn.execute("update fhir_resource set id = id || '-old' where id::int <= 100")  # churn without growth
        conn.execute("select pg_stat_force_next_flush()")
        assert "fhir_resource" not in _refresh(url)


def test_drift_rule():
    assert not statistics.drifted(0, statistics.SLACK - 1)  # a few hundred rows: any plan is cheap
    assert statistics.drifted(0, statistics.SLACK)
    assert not statistics.drifted(10_000, 19_999)
    assert statistics.drifted(10_000, 20_000)  # doubled
    assert statistics.drifted(10_000, 0)  # emptied (the job queue after a burst)


def _refresh(url: str) -> list[str]:
    import asyncio

    async def run() -> list[str]:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            return await statistics.refresh(conn)

    return asyncio.run(run())
