"""Versioned FHIR resources in PostgreSQL (the table `fhir_resource` and its index `fhir_search`).

The store knows types, ids, versions, workspaces and (param, value) index rows; what those rows mean
for FHIR search is decided in `fhir/search_params.py`. Content is kept as the JSON text we return,
so a read is one index lookup and no re-serialization. Source: FHIR STU3 http.html (create, read,
vread, update, history, conditional create).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from dmp_gateway.store.errors import MultipleMatches, ResourceNotFound, VersionConflict
from dmp_gateway.store.resource_sql import (INSERT, INSERT_ALSO, REINSERT, create_ctes,
                                          replace_known_ctes, search_where)

IndexRows = Sequence[tuple[str, str]]
OnWrite = Callable[[AsyncConnection, "StoredResource"], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class CreatedAlso:
    """What else a resource's creation writes, folded into its insert statement: atomic without a
    transaction and without a round trip of its own (a new CommunicationRequest's delivery and job).

    `ctes`: CTEs (`name as (...)`, comma-separated) that follow the resource's row; they may use the
    insert's parameters `%(id)s` (the new resource's id) and `%(ws)s` (its workspace). `result`: a
    select-list expression reading the CTEs that must run (a plain SELECT CTE runs only when read).
    `params`: their other named parameters. A new version of the resource writes none of it.
    """

    ctes: str
    result: str
    params: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class StoredResource:
    """One version of a resource as stored."""

    #: FHIR resource type, e.g. "Patient".
    res_type: str
    #: Logical id (server-assigned).
    id: str
    #: meta.versionId as an integer, from 1.
    version: int
    #: The workspace (Organization id) that owns it.
    workspace_id: str
    #: meta.lastUpdated.
    last_updated: datetime
    #: The resource JSON as returned to clients (with id and meta).
    content: bytes
    #: For Binary: the stored bytes' blob id.
    blob_id: uuid.UUID | None = None

    def as_dict(self) -> dict:
        return orjson.loads(self.content)

    @property
    def reference(self) -> str:
        return f"{self.res_type}/{self.id}"


@dataclass(frozen=True, slots=True)
class NewResource:
    """A resource to create with `write_together` (its id chosen by the caller)."""

    res_type: str
    res_id: str
    workspace_id: str
    content: dict
    index: IndexRows


@dataclass(frozen=True, slots=True)
class NextVersion:
    """A new version to write with `write_together`, only if `known_version` is still the current one."""

    res_type: str
    res_id: str
    workspace_id: str
    content: dict
    index: IndexRows
    known_version: int


@dataclass(frozen=True, slots=True)
class Criterion:
    """One search condition on the index: `param` compared with `values` (OR between values)."""

    param: str
    #: eq (exact, any of values), prefix (starts with any of values), gt/ge/lt/le (one value), or
    #: within (two values: from, included, to, excluded).
    op: str
    values: tuple[str, ...]


def _stamp(content: dict, res_id: str, version: int, when: datetime) -> bytes:
    """The resource with server-owned id and meta, serialized once (FHIR keeps meta.tag etc.)."""
    meta = dict(content.get("meta") or {})
    meta["versionId"] = str(version)
    meta["lastUpdated"] = when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    body = {"resourceType": content["resourceType"], "id": res_id, "meta": meta}
    for key, value in content.items():
        if key not in body:
            body[key] = value
    return orjson.dumps(body)


#: The largest `fhir_resource.version` (a PostgreSQL integer).
_MAX_VERSION = 2**31 - 1

#: Concurrent updates of one resource queue on its row; each loser re-reads the new current version.
_UPDATE_RACE_RETRIES = 50

_COLUMNS = "res_type, id, version, workspace_id, last_updated, content::text, blob_id"
_SELECT = f"select {_COLUMNS} from fhir_resource"


def _wanted(refs: Sequence[tuple[str, str]]) -> tuple[str, list[str]]:
    """A VALUES list of the (type, id) pairs, `wanted(t, i)`, and its parameters.

    Not `unnest()` of two arrays: the planner estimates an array parameter's unnest at 100 rows, so
    once prepared, the generic plan looked dearer than a fresh one for the actual 1-4 pairs, and every
    execution was planned again (0.07-0.17 ms of PostgreSQL each, more than running it:
    pg_stat_statements, docs/benchmarks.md). A VALUES list has its true length in both plans, so
    PostgreSQL keeps the generic one; a statement per list length, 1-4 in practice.
    """
    pairs = ", ".join(["(%s::text, %s::text)"] * len(refs))
    return f"(values {pairs}) as wanted(t, i)", [part for ref in refs for part in ref]


def _current_of(refs: Sequence[tuple[str, str]]) -> tuple[str, list[str]]:
    """The current versions of a list of (type, id): `fhir_resource r` joined to them."""
    wanted, params = _wanted(refs)
    return f" r join {wanted} on r.res_type = wanted.t and r.id = wanted.i where r.is_current", params


def _row(row: tuple) -> StoredResource:
    return StoredResource(row[0], row[1], row[2], row[3], row[4], row[5].encode(), row[6])


class PostgresResourceStore:
    """Create, read, update, history and search of versioned resources, isolated by workspace."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    @asynccontextmanager
    async def _connection(self, conn: AsyncConnection | None) -> AsyncIterator[AsyncConnection]:
        """The caller's connection (inside its transaction) or one from the pool for a single statement."""
        if conn is not None:
            yield conn
        else:
            async with self.pool.connection() as own:
                yield own

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A connection inside one transaction, for writes that must land together."""
        async with self.pool.connection() as conn, conn.transaction():
            yield conn

    async def create(
        self, res_type: str, workspace_id: str, content: dict, index: IndexRows, *,
        blob_id: uuid.UUID | None = None, on_write: OnWrite | CreatedAlso | None = None,
        conn: AsyncConnection | None = None, res_id: str | None = None,
    ) -> StoredResource:
        """Insert version 1 (FHIR create), with a new id unless the server chose one (workspaces).

        `on_write` runs in the same transaction, or in the same statement when it is `CreatedAlso`.
        """
        res_id = res_id or str(uuid.uuid4())
        if conn is not None or on_write is None or isinstance(on_write, CreatedAlso):
            # In the caller's transaction; or alone: INSERT is one statement (resource and index rows), so on an
            # autocommit connection it is its own transaction, one round trip instead of BEGIN, INSERT, COMMIT.
            async with self._connection(conn) as c:
                return await self._insert(c, res_type, res_id, 1, workspace_id, content, index, blob_id, on_write)
        async with self.transaction() as tx:
            return await self._insert(tx, res_type, res_id, 1, workspace_id, content, index, blob_id, on_write)

    async def conditional_create(
        self, res_type: str, workspace_id: str, content: dict, index: IndexRows, criteria: Sequence[Criterion],
        lock_key: str, *, blob_id: uuid.UUID | None = None, on_write: OnWrite | CreatedAlso | None = None,
    ) -> tuple[StoredResource, bool]:
        """If-None-Exist: create when nothing matches, return the match when one does (STU3 http.html#ccreate).

        Race-free: the search and the insert run under a transaction advisory lock on the criteria, so
        identical parallel requests serialize and all but the first find the first one's resource.
        """
        async with self.transaction() as tx:
            await tx.execute("select pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{res_type}|{workspace_id}|{lock_key}",))
            matches, total = await self._search(tx, res_type, workspace_id, criteria, 2, 0, with_total=False)
            if len(matches) > 1:
                raise MultipleMatches(len(matches))
            if matches:
                return matches[0], False
            stored = await self._insert(tx, res_type, str(uuid.uuid4()), 1, workspace_id, content, index, blob_id, on_write)
            return stored, True

    async def _insert(
        self, conn: AsyncConnection, res_type: str, res_id: str, version: int, workspace_id: str,
        content: dict, index: IndexRows, blob_id: uuid.UUID | None, on_write: OnWrite | CreatedAlso | None,
        *, replace_index: bool = False,
    ) -> StoredResource:
        now = datetime.now(UTC)
        body = _stamp(content, res_id, version, now)
        params = {
            "t": res_type, "id": res_id, "v": version, "ws": workspace_id, "at": now, "blob": blob_id,
            # Index rows as one JSON text: psycopg dumps a str for a fraction of two text[] lists.
            "c": body.decode(), "index": orjson.dumps(index).decode(),
        }
        sql = REINSERT if replace_index else INSERT
        if isinstance(on_write, CreatedAlso):
            if version == 1:
                sql = INSERT_ALSO.replace("{ctes}", on_write.ctes).replace("{result}", on_write.result)
                params.update(on_write.params)
            on_write = None
        await conn.execute(sql, params)
        stored = StoredResource(res_type, res_id, version, workspace_id, now, body, blob_id)
        if on_write is not None:
            await on_write(conn, stored)
        return stored

    @staticmethod
    async def _exists(conn: AsyncConnection, res_type: str, res_id: str, workspace_id: str) -> bool:
        cur = await conn.execute("select 1 from fhir_resource where res_type = %s and id = %s and workspace_id = %s"
                                 " limit 1", (res_type, res_id, workspace_id))
        return await cur.fetchone() is not None

    async def read(self, res_type: str, res_id: str, workspace_id: str) -> StoredResource:
        """The current version, or ResourceNotFound (also for another workspace's resource: no leak)."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                f"{_SELECT} where res_type = %s and id = %s and is_current and workspace_id = %s",
                (res_type, res_id, workspace_id))
            row = await cur.fetchone()
        if row is None:
            raise ResourceNotFound(f"{res_type}/{res_id} is not known")
        return _row(row)

    async def read_any(self, res_type: str, res_id: str, conn: AsyncConnection | None = None) -> StoredResource:
        """The current version whatever its workspace: for the gateway's own work (delivery), never for clients."""
        async with self._connection(conn) as c:
            cur = await c.execute(f"{_SELECT} where res_type = %s and id = %s and is_current", (res_type, res_id))
            row = await cur.fetchone()
        if row is None:
            raise ResourceNotFound(f"{res_type}/{res_id} is not known")
        return _row(row)

    async def read_many(self, refs: Sequence[tuple[str, str]],
                        conn: AsyncConnection | None = None) -> dict[tuple[str, str], StoredResource]:
        """`read_any` of several (type, id) in one round trip; those not found are left out."""
        if not refs:
            return {}
        current_of, params = _current_of(refs)
        async with self._connection(conn) as c:
            cur = await c.execute(_SELECT + current_of, params)
            rows = await cur.fetchall()
        return {(stored.res_type, stored.id): stored for stored in map(_row, rows)}

    async def read_many_with_content(
        self, refs: Sequence[tuple[str, str]],
    ) -> tuple[dict[tuple[str, str], StoredResource], dict[uuid.UUID, bytes]]:
        """`read_many`, and the whole content of those that are Binaries (by blob id), in the same round trip.

        For the CDA builder, which needs a document's PDF whole anyway (a Binary's content is never
        changed: `binary_chunk` rows are only ever inserted with their blob).
        """
        if not refs:
            return {}, {}
        current_of, params = _current_of(refs)
        sql = (f"select {_COLUMNS}, (select string_agg(c.data, ''::bytea order by c.seq) from binary_chunk c"
               f" where c.blob_id = r.blob_id) from fhir_resource{current_of}")
        async with self.pool.connection() as c:
            # Binary results: the text protocol would hex-encode every byte of the content on the server.
            cur = await c.execute(sql, params, binary=True)
            rows = await cur.fetchall()
        found = {(row[0], row[1]): _row(row) for row in rows}
        return found, {row[6]: bytes(row[7]) for row in rows if row[6] is not None and row[7] is not None}

    async def vread(self, res_type: str, res_id: str, version: int, workspace_id: str) -> StoredResource:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                f"{_SELECT} where res_type = %s and id = %s and version = %s and workspace_id = %s",
                (res_type, res_id, version, workspace_id))
            row = await cur.fetchone()
        if row is None:
            raise ResourceNotFound(f"{res_type}/{res_id}/_history/{version} is not known")
        return _row(row)

    async def history(self, res_type: str, res_id: str, workspace_id: str) -> list[StoredResource]:
        """Every version, newest first (STU3 instance history)."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                f"{_SELECT} where res_type = %s and id = %s and workspace_id = %s order by version desc",
                (res_type, res_id, workspace_id))
            rows = await cur.fetchall()
        if not rows:
            raise ResourceNotFound(f"{res_type}/{res_id} is not known")
        return [_row(r) for r in rows]

    async def update(
        self, res_type: str, res_id: str, workspace_id: str, content: dict, index: IndexRows, *,
        if_match: int | None = None, on_write: OnWrite | CreatedAlso | None = None,
        conn: AsyncConnection | None = None, known_version: int | None = None,
    ) -> StoredResource:
        """A new current version (FHIR update); `if_match` enforces optimistic locking.

        `known_version`: the version the caller just read, a hint (not a condition, unlike `if_match`)
        that makes the update one statement when it is still the current one.
        """
        if isinstance(on_write, CreatedAlso):
            on_write = None  # what a creation writes: not for a new version
        expected = if_match if if_match is not None else known_version
        if expected is not None and on_write is None:
            # One statement is its own transaction: no BEGIN/COMMIT needed around it. A version out of
            # SQL's integer range (a client's If-Match) writes nothing and takes the general path.
            stored = await self.replace_if_current(res_type, res_id, workspace_id, content, index, expected, conn)
            if stored is not None:
                return stored
        if conn is not None:
            return await self._update(conn, res_type, res_id, workspace_id, content, index, if_match, on_write)
        async with self.transaction() as tx:
            return await self._update(tx, res_type, res_id, workspace_id, content, index, if_match, on_write)

    async def replace_if_current(
        self, res_type: str, res_id: str, workspace_id: str, content: dict, index: IndexRows, version: int,
        conn: AsyncConnection | None = None,
    ) -> StoredResource | None:
        """Version `version` + 1 with `content`, only if `version` is still the current one (else None).

        For a caller holding a copy read earlier: None means somebody wrote in between, and the change
        must be made again on a fresh read rather than overwrite theirs. One statement.
        """
        if not 0 < version <= _MAX_VERSION:
            return None
        async with self._connection(conn) as c:
            (stored,) = await self.write_together(
                [NextVersion(res_type, res_id, workspace_id, content, index, version)], c)
            return stored

    async def write_together(self, writes: Sequence[NewResource | NextVersion],
                             conn: AsyncConnection) -> list[StoredResource | None]:
        """Creates and known-version updates in one statement (one round trip), in order.

        A `NextVersion` whose known version is no longer current writes nothing and gives None: the
        caller reads it again and makes its change on the current version. The others are written
        regardless, so call it inside a transaction when they must land together or not at all.
        """
        if not writes:
            return []
        now = datetime.now(UTC)
        ctes, results, params, planned = [], [], {}, []
        for i, write in enumerate(writes):
            p = f"w{i}_"
            version = 1 if isinstance(write, NewResource) else write.known_version + 1
            body = _stamp(write.content, write.res_id, version, now)
            part: dict[str, object] = {"t": write.res_type, "id": write.res_id, "v": version, "ws": write.workspace_id,
                                       "at": now, "c": body.decode(), "index": orjson.dumps(write.index).decode()}
            if isinstance(write, NewResource):
                part["blob"] = None
                ctes.append(create_ctes(p))
                results.append(f"(select count(*) from {p}r), null::uuid")
            else:
                # An out-of-range version matches no row: SQL must not see it (an integer column).
                part["prev"] = write.known_version if 0 < write.known_version <= _MAX_VERSION else 0
                ctes.append(replace_known_ctes(p))
                results.append(f"(select count(*) from {p}r), (select blob_id from {p}r)")
            params.update({p + key: value for key, value in part.items()})
            planned.append((write, version, body))
        cur = await conn.execute("with " + ", ".join(ctes) + "\nselect " + ", ".join(results), params)
        row = await cur.fetchone()
        return [StoredResource(write.res_type, write.res_id, version, write.workspace_id, now, body, row[2 * i + 1])
                if row[2 * i] else None for i, (write, version, body) in enumerate(planned)]

    async def _update(
        self, tx: AsyncConnection, res_type: str, res_id: str, workspace_id: str, content: dict,
        index: IndexRows, if_match: int | None, on_write: OnWrite | None,
    ) -> StoredResource:
        # Retiring the current version locks it (concurrent updates queue here) and tells its number;
        # a wrong If-Match raises, and the caller's transaction rolls the retirement back.
        row = None
        for _ in range(_UPDATE_RACE_RETRIES):
            cur = await tx.execute(
                "update fhir_resource set is_current = false where res_type = %s and id = %s and is_current"
                " and workspace_id = %s returning version, blob_id", (res_type, res_id, workspace_id))
            row = await cur.fetchone()
            # No row can also mean a concurrent update retired the version we waited for: its successor
            # is visible to the next statement (READ COMMITTED takes a new snapshot per statement).
            if row is not None or not await self._exists(tx, res_type, res_id, workspace_id):
                break
        if row is None:
            raise ResourceNotFound(f"{res_type}/{res_id} is not known")
        current, blob_id = row
        if if_match is not None and if_match != current:
            raise VersionConflict(if_match, current)
        return await self._insert(tx, res_type, res_id, current + 1, workspace_id, content, index,
                                  blob_id, on_write, replace_index=True)

    async def search(
        self, res_type: str, workspace_id: str, criteria: Sequence[Criterion], count: int, offset: int,
    ) -> tuple[list[StoredResource], int]:
        """Current resources matching every criterion, newest first, with the total count."""
        async with self.pool.connection() as conn:
            return await self._search(conn, res_type, workspace_id, criteria, count, offset, with_total=True)

    async def _search(
        self, conn: AsyncConnection, res_type: str, workspace_id: str, criteria: Sequence[Criterion],
        count: int, offset: int, *, with_total: bool,
    ) -> tuple[list[StoredResource], int]:
        where, args = search_where(res_type, workspace_id, criteria)
        cur = await conn.execute(
            f"{_SELECT} r where {where} order by last_updated desc, id limit %s offset %s", (*args, count, offset))
        rows = [_row(r) for r in await cur.fetchall()]
        total = len(rows)
        if with_total and (offset > 0 or len(rows) == count):
            cur = await conn.execute(f"select count(*) from fhir_resource r where {where}", args)
            total = (await cur.fetchone())[0]
        else:
            total += offset
        return rows, total

    async def current(self, references: Sequence[tuple[str, str]],
                      workspace_id: str) -> dict[tuple[str, str], StoredResource]:
        """The current version of each of these (type, id) in the workspace; those missing are left out.

        For the reference checks of a write, which then read what they need of the referenced
        resources (a request's document, its patient) from here rather than again.
        """
        if not references:
            return {}
        async with self.pool.connection() as conn:
            # One probe of the current-version index per wanted pair, forced by LATERAL ... LIMIT 1:
            # as a plain join or IN, the planner could choose to walk the whole workspace's current
            # rows (all of them share one workspace id), 3-4 ms per create at 10k resources.
            wanted, params = _wanted(references)
            cur = await conn.execute(
                f"select hit.* from {wanted},"
                f" lateral ({_SELECT} r where r.res_type = wanted.t and r.id = wanted.i"
                "  and r.is_current and r.workspace_id = %s limit 1) as hit",
                (*params, workspace_id))
            return {(stored.res_type, stored.id): stored for stored in map(_row, await cur.fetchall())}
