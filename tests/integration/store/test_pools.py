"""store.db.open_pool: its connections say which pool they belong to (pg_stat_activity.application_name)."""

from __future__ import annotations

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from dmp_gateway.store.db import open_pool


async def _application_name(url: str, name: str) -> str:
    pool = await open_pool(url, min_size=1, max_size=1, name=name)
    try:
        async with pool.connection() as conn:
            row = await (await conn.execute(
                "select application_name from pg_stat_activity where pid = pg_backend_pid()")).fetchone()
            return row[0]
    finally:
        await pool.close()


async def test_a_pool_names_its_connections(database_url):
    assert await _application_name(database_url, "dmpgw-jobs") == "dmpgw-jobs"


async def test_a_name_in_the_url_wins(database_url):
    url = make_conninfo(**{**conninfo_to_dict(database_url), "application_name": "ops-chosen"})
    assert await _application_name(url, "dmpgw") == "ops-chosen"
