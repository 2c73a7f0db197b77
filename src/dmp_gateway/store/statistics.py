"""Planner statistics that keep up with tables growing from empty.

The gateway's statements are prepared (psycopg prepares a statement on its fifth execution) and
PostgreSQL then reuses one generic plan for them, chosen with the statistics of that moment.
ANALYZE invalidates those plans; autovacuum analyzes a table only after 10 % of it changed and
at most once a minute, so a new installation, or a benchmark starting from empty tables, kept for
minutes plans made for a few rows: a lookup by (type, id) scanning the whole table (780 buffers per
call), procrastinate's fetch walking every waiting job (600 ms with 3,000 waiting, migration 0005).

The worker calls `refresh` every few seconds: one catalog query, and an ANALYZE of a table only
when its size drifted from what the planner believes by more than it already holds (so each table
is analyzed a logarithmic number of times as it grows) or by `SLACK` rows from empty. Planning
every execution instead (`plan_cache_mode=force_custom_plan`, used before) cost a quarter of
PostgreSQL's CPU in the end-to-end benchmark (perf), procrastinate's PL/pgSQL functions included.
"""

from __future__ import annotations

from psycopg import AsyncConnection, sql

#: Tables that grow with traffic and are read by key on the hot path.
GROWING = ("fhir_resource", "fhir_search", "binary_blob", "binary_chunk", "delivery", "delivery_event")
#: Rows of drift below which a table is left alone (a plan for a few hundred rows is harmless).
SLACK = 200

_SIZES = """
select c.relname, greatest(c.reltuples, 0), s.n_live_tup
from pg_class c join pg_stat_user_tables s on s.relid = c.oid
where c.oid = any(%s::regclass[])
"""
#: The job queue shrinks as fast as it grows, and `n_live_tup` lags behind its churn: count it.
_QUEUE = """
select 'procrastinate_jobs', (select greatest(reltuples, 0) from pg_class where oid = 'procrastinate_jobs'::regclass),
       (select count(*) from procrastinate_jobs where status in ('todo', 'doing'))
"""


def drifted(believed: float, actual: float) -> bool:
    """Whether the planner's row count is far enough from the real one to re-analyze."""
    return abs(actual - believed) >= max(SLACK, believed)


async def refresh(conn: AsyncConnection) -> list[str]:
    """ANALYZE every tracked table whose size drifted; the names of those analyzed."""
    rows = list(await (await conn.execute(_SIZES, (list(GROWING),))).fetchall())
    rows.append(await (await conn.execute(_QUEUE)).fetchone())
    stale = [name for name, believed, actual in rows if drifted(believed, actual)]
    for name in stale:
        await conn.execute(sql.SQL("analyze {}").format(sql.Identifier(name)))
    return stale
