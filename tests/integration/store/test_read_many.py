"""`read_many`: several current resources by (type, id) in one round trip."""

from __future__ import annotations

from dmp_gateway.store.db import open_pool
from dmp_gateway.store.migrate import migrate
from dmp_gateway.store.resources import PostgresResourceStore


async def test_read_many_returns_the_current_versions_found_and_leaves_out_the_rest(database_url):
    migrate(database_url)
    pool = await open_pool(database_url, min_size=1, max_size=2)
    try:
        store = PostgresResourceStore(pool)
        patient = await store.create("Patient", "w1", {"resourceType": "Patient", "gender": "female"}, [])
        org = await store.create("Organization", "w2", {"resourceType": "Organization", "name": "A"}, [])
        await store.update("Organization", org.id, "w2", {"resourceType": "Organization", "name": "B"}, [])
        found = await store.read_many([("Patient", patient.id), ("Organization", org.id), ("Patient", "missing"),
                                       ("Organization", patient.id)])
        assert set(found) == {("Patient", patient.id), ("Organization", org.id)}
        assert found[("Organization", org.id)].version == 2
        assert found[("Organization", org.id)].as_dict()["name"] == "B"
        assert await store.read_many([]) == {}
    finally:
        await pool.close()


async def test_read_many_with_content_brings_each_binary_whole_and_in_order(database_url):
    from dmp_gateway.store.binaries import CHUNK_SIZE, write_blob

    migrate(database_url)
    pool = await open_pool(database_url, min_size=1, max_size=2)
    big = bytes(range(256)) * (CHUNK_SIZE // 256) * 2 + b"tail"  # three chunks
    try:
        store = PostgresResourceStore(pool)
        stored = {}
        for name, data in (("big", big), ("empty", b"")):
            async with store.transaction() as conn:
                async def chunks(data=data):
                    yield data[:1000]
                    yield data[1000:]
                blob = await write_blob(conn, "w", "application/pdf", chunks(), 1 << 30)
                stored[name] = await store.create("Binary", "w", {"resourceType": "Binary",
                                                                  "contentType": "application/pdf"}, [],
                                                  blob_id=blob.blob_id, conn=conn)
        patient = await store.create("Patient", "w", {"resourceType": "Patient"}, [])
        found, contents = await store.read_many_with_content(
            [("Binary", stored["big"].id), ("Binary", stored["empty"].id), ("Patient", patient.id)])
        assert set(found) == {("Binary", stored["big"].id), ("Binary", stored["empty"].id), ("Patient", patient.id)}
        assert found[("Patient", patient.id)].as_dict()["resourceType"] == "Patient"
        assert contents == {stored["big"].blob_id: big, stored["empty"].blob_id: b""}
        assert await store.read_many_with_content([]) == ({}, {})
    finally:
        await pool.close()


async def test_a_prepared_read_many_keeps_its_generic_plan_instead_of_planning_every_call(database_url):
    """Planning the lookup cost PostgreSQL more than running it when its list was an array parameter."""
    migrate(database_url)
    pool = await open_pool(database_url, min_size=1, max_size=1)
    try:
        store = PostgresResourceStore(pool)
        patient = await store.create("Patient", "w", {"resourceType": "Patient"}, [])
        org = await store.create("Organization", "w", {"resourceType": "Organization", "name": "A"}, [])
        async with pool.connection() as conn:
            # Tables of a few thousand rows, as the planner sees them: on a near-empty table any plan is cheap.
            await conn.execute("insert into fhir_resource (res_type, id, version, workspace_id, last_updated,"
                               " is_current, content) select 'Patient', 'p' || n, 1, 'w', now(), true, '{}'"
                               " from generate_series(1, 5000) n")
            await conn.execute("analyze fhir_resource")
            # psycopg prepares a statement at its 5th run; PostgreSQL then tries 5 custom plans before
            # it weighs the generic one.
            for _ in range(15):
                found = await store.read_many([("Patient", patient.id), ("Organization", org.id)], conn=conn)
                assert set(found) == {("Patient", patient.id), ("Organization", org.id)}
            cur = await conn.execute("select generic_plans, custom_plans from pg_prepared_statements"
                                     " where statement like '%wanted%'")
            plans = await cur.fetchall()
        assert len(plans) == 1
        generic, custom = plans[0]
        assert generic >= 4, f"{generic} generic and {custom} custom plans"
    finally:
        await pool.close()
