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
