"""An update with the version the caller read is one statement; with a stale one it takes the general
path, and If-Match still refuses a stale version (store/resources.py)."""

from __future__ import annotations

import pytest

from dmp_gateway.store.errors import ResourceNotFound, VersionConflict
from dmp_gateway.store.resources import Criterion, PostgresResourceStore


@pytest.fixture
def store(resource_store):
    return resource_store


def org(name: str) -> dict:
    return {"resourceType": "Organization", "name": name}


async def _search(store: PostgresResourceStore, name: str) -> list[str]:
    found, _ = await store.search("Organization", "w", [Criterion("name", "eq", (name,))], 10, 0)
    return [r.as_dict()["name"] for r in found]


@pytest.mark.parametrize("hint", ["current", "stale", "none"])
async def test_every_update_path_leaves_one_current_version_and_its_index(store, hint):
    created = await store.create("Organization", "w", org("A"), [("name", "a")])
    await store.update("Organization", created.id, "w", org("B"), [("name", "b")])  # version 2
    known = {"current": 2, "stale": 1, "none": None}[hint]
    stored = await store.update("Organization", created.id, "w", org("C"), [("name", "c")], known_version=known)
    assert stored.version == 3
    assert (await store.read("Organization", created.id, "w")).as_dict()["name"] == "C"
    assert [v.version for v in await store.history("Organization", created.id, "w")] == [3, 2, 1]
    assert await _search(store, "c") == ["C"] and await _search(store, "b") == []


async def test_if_match_is_still_a_condition(store):
    created = await store.create("Organization", "w", org("A"), [("name", "a")])
    assert (await store.update("Organization", created.id, "w", org("B"), [("name", "b")], if_match=1)).version == 2
    with pytest.raises(VersionConflict):
        await store.update("Organization", created.id, "w", org("C"), [("name", "c")], if_match=1)
    assert (await store.read("Organization", created.id, "w")).as_dict()["name"] == "B"
    assert await _search(store, "b") == ["B"]
    with pytest.raises(VersionConflict):  # beyond an SQL integer: a conflict, not a database error
        await store.update("Organization", created.id, "w", org("C"), [("name", "c")], if_match=2**40)
    with pytest.raises(ResourceNotFound):
        await store.update("Organization", "missing", "w", org("C"), [], if_match=1)
    with pytest.raises(ResourceNotFound):  # another workspace's resource is not found, whatever the hint
        await store.update("Organization", created.id, "other", org("C"), [], known_version=2)


async def _index_rows(store: PostgresResourceStore, res_id: str) -> list[tuple[str, str, int]]:
    """(param, value, ctid block+offset) of a resource's index rows: a kept row keeps its ctid."""
    async with store.pool.connection() as conn:
        cur = await conn.execute("select param, value, ctid::text from fhir_search where res_type = 'Organization'"
                                 " and id = %s order by param, value", (res_id,))
        return await cur.fetchall()


async def test_an_update_writes_only_the_index_rows_that_changed(store):
    created = await store.create("Organization", "w", org("A"), [("name", "a"), ("identifier", "x"), ("type", "t")])
    before = {(p, v): ctid for p, v, ctid in await _index_rows(store, created.id)}
    await store.update("Organization", created.id, "w", org("B"),
                       [("name", "b"), ("identifier", "x"), ("type", "t"), ("type", "u"), ("type", "u")],
                       known_version=1)
    rows = await _index_rows(store, created.id)
    assert [(p, v) for p, v, _ in rows] == [("identifier", "x"), ("name", "b"), ("type", "t"), ("type", "u")]  # once each
    after = {(p, v): ctid for p, v, ctid in rows}
    assert after[("identifier", "x")] == before[("identifier", "x")] and after[("type", "t")] == before[("type", "t")]
    assert await _search(store, "b") == ["B"] and await _search(store, "a") == []


async def test_writes_together_create_and_update_in_one_statement_and_skip_a_stale_version(store):
    from dmp_gateway.store.resources import NewResource, NextVersion

    a = await store.create("Organization", "w", org("A"), [("name", "a")])
    b = await store.create("Organization", "w", org("B"), [("name", "b")])
    await store.update("Organization", b.id, "w", org("B2"), [("name", "b2")])  # b is now version 2
    async with store.transaction() as conn:
        written = await store.write_together([
            NextVersion("Organization", a.id, "w", org("A2"), [("name", "a2")], 1),
            NewResource("Organization", "new-org", "w", org("C"), [("name", "c")]),
            NextVersion("Organization", b.id, "w", org("B3"), [("name", "b3")], 1),  # stale: b is at 2
        ], conn)
    assert [(w.id, w.version) if w else None for w in written] == [(a.id, 2), ("new-org", 1), None]
    assert (await store.read("Organization", a.id, "w")).as_dict()["name"] == "A2"
    assert (await store.read("Organization", "new-org", "w")).version == 1
    stale = await store.read("Organization", b.id, "w")
    assert (stale.version, stale.as_dict()["name"]) == (2, "B2")  # untouched
    assert await _search(store, "a2") == ["A2"] and await _search(store, "a") == []
    assert await _search(store, "c") == ["C"] and await _search(store, "b2") == ["B2"]
    assert await _search(store, "b3") == []
    async with store.transaction() as conn:
        assert await store.write_together([], conn) == []
