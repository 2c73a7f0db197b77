"""The simulated DMP's registry and repository: accepted submissions in PostgreSQL, schema `dmp_sim`.

Tables are created idempotently at start-up with plain SQL. uniqueId uniqueness (IHE ITI TF-3 §4.1.12:
XDSDuplicateUniqueIdInRegistry) is held by unique indexes, so it holds under concurrent submissions too.

The tables are UNLOGGED: a test double does not need its documents to survive a PostgreSQL crash (a clean
restart keeps them; crash recovery empties them), and writing every document to the WAL as well cost a third of
PostgreSQL's CPU per submission (1.1-1.3 → 0.8-0.9 ms per 200 KB, benchmarks/dmp_sim.py). Tables of an older
version are switched at start-up.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from dmp_gateway.dmp.namespaces import STATUS_APPROVED, STATUS_DEPRECATED

SCHEMA_SQL = """
select pg_advisory_xact_lock(hashtext('dmp_sim schema'));
create schema if not exists dmp_sim;
create unlogged table if not exists dmp_sim.submission_sets (
    id bigserial primary key,
    unique_id text not null,
    patient text not null,
    received_at timestamptz not null
);
create unique index if not exists submission_sets_unique_id on dmp_sim.submission_sets (unique_id);
create unlogged table if not exists dmp_sim.documents (
    id bigserial primary key,
    entry_uuid uuid not null unique,
    unique_id text not null,
    submission_set_id bigint not null references dmp_sim.submission_sets (id),
    patient text not null,
    patient_cx text not null,
    hash text not null,
    size bigint not null,
    mime_type text not null,
    is_signature boolean not null,
    status text not null,
    metadata text not null,
    content bytea not null,
    received_at timestamptz not null
);
-- Documents are mostly base64: compressing them costs PostgreSQL ~2 ms per 200 KB and saves little.
alter table dmp_sim.documents alter column content set storage external;
create unique index if not exists documents_unique_id on dmp_sim.documents (unique_id);
create index if not exists documents_patient on dmp_sim.documents (patient);
-- Fault plan and counters shared by the worker processes of `dmp-sim --workers N` (state.py).
create unlogged table if not exists dmp_sim.fault_plan (
    id int primary key check (id = 1),
    plan jsonb not null,
    generation bigint not null
);
create unlogged table if not exists dmp_sim.fault_next (seq bigserial primary key, fault text not null);
create unlogged table if not exists dmp_sim.counters (key text primary key, n bigint not null);
-- Tables created logged by an older version (documents first: it references submission_sets).
do $$
declare
    name text;
begin
    foreach name in array array['documents', 'submission_sets'] loop
        if exists (select 1 from pg_class where oid = ('dmp_sim.' || name)::regclass and relpersistence = 'p') then
            execute format('alter table dmp_sim.%I set unlogged', name);
        end if;
    end loop;
end
$$;
"""

_ROW = ("content", "entry_uuid", "unique_id", "patient_cx", "hash", "size", "mime_type", "is_signature", "metadata")


@functools.lru_cache(maxsize=8)
def _register_sql(documents: int) -> str:
    """Submission set + `documents` rows (+ RPLC deprecation) as one statement: data-modifying CTEs run
    atomically, in one round trip. Parameters go in binary format (`%b`), so MBs of bytea are not escaped."""
    rows = ", ".join("(" + ", ".join(f"%({name}{i})b" for name in _ROW) + ")" for i in range(documents))
    return f"""
with submission_set as (
    insert into dmp_sim.submission_sets (unique_id, patient, received_at)
    values (%(set_unique_id)s, %(patient)s, %(received_at)s) returning id
), inserted as (
    insert into dmp_sim.documents (submission_set_id, content, entry_uuid, unique_id, patient, patient_cx, hash, size,
                                   mime_type, is_signature, status, metadata, received_at)
    select submission_set.id, d.content, d.entry_uuid, d.unique_id, %(patient)s, d.patient_cx, d.hash, d.size,
           d.mime_type, d.is_signature, %(approved)s, d.metadata, %(received_at)s
    from submission_set, (values {rows}) as d({", ".join(_ROW)})
    returning 1
)
update dmp_sim.documents set status = %(deprecated)s where entry_uuid = any(%(deprecate)s::uuid[])
"""


_COLUMNS = (
    "entry_uuid, unique_id, patient, patient_cx, hash, size, mime_type, is_signature, status, metadata, received_at"
)


class DuplicateUniqueId(Exception):
    """A uniqueId of the submission is already registered (raised from the unique index)."""

    def __init__(self, unique_id: str | None) -> None:
        super().__init__(unique_id)
        self.unique_id = unique_id


@dataclass(frozen=True, slots=True)
class NewDocument:
    """A document entry to register."""

    unique_id: str
    patient: str
    patient_cx: str
    hash: str
    size: int
    mime_type: str
    is_signature: bool
    #: The ExtrinsicObject as submitted (serialized), returned by ITI-18 LeafClass.
    metadata: str
    content: bytes


@dataclass(frozen=True, slots=True)
class StoredDocument:
    entry_uuid: uuid.UUID
    unique_id: str
    patient: str
    patient_cx: str
    hash: str
    size: int
    mime_type: str
    is_signature: bool
    status: str
    metadata: str
    received_at: datetime


class Registry:
    """Queries on the `dmp_sim` schema, through an async psycopg 3 pool."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, url: str, *, max_size: int = 10) -> "Registry":
        async def configure(conn: psycopg.AsyncConnection) -> None:
            await conn.set_autocommit(True)
            # A test double: an accepted document is visible at once, but a machine crash may lose the last
            # few hundred ms of them. This skips the WAL flush wait on every submission (session-local).
            await conn.execute("set synchronous_commit = off")

        pool = AsyncConnectionPool(url, min_size=1, max_size=max_size, open=False, name="dmp_sim", configure=configure,
                                   kwargs={"application_name": "dmp_sim"})
        await pool.open(wait=True, timeout=30)
        async with pool.connection() as conn:
            async with conn.transaction():
                await conn.execute(SCHEMA_SQL)
        return cls(pool)

    @property
    def pool(self) -> AsyncConnectionPool:
        """The connection pool (state.SharedState keeps the workers' shared plan and counters with it)."""
        return self._pool

    async def close(self) -> None:
        await self._pool.close()

    async def register(
        self, *, set_unique_id: str, patient: str, documents: list[NewDocument], deprecate: list[uuid.UUID],
        received_at: datetime,
    ) -> list[uuid.UUID]:
        """Store a submission set and its documents in one statement (one round trip, one transaction);
        returns the new entryUUIDs. The unique indexes decide duplicates, even between concurrent requests."""
        entry_uuids = [uuid.uuid4() for _ in documents]
        params: dict[str, object] = {
            "set_unique_id": set_unique_id, "patient": patient, "received_at": received_at,
            "approved": STATUS_APPROVED, "deprecated": STATUS_DEPRECATED, "deprecate": deprecate,
        }
        for i, (entry, d) in enumerate(zip(entry_uuids, documents)):
            values = (d.content, entry, d.unique_id, d.patient_cx, d.hash, d.size, d.mime_type, d.is_signature, d.metadata)
            params.update({f"{name}{i}": value for name, value in zip(_ROW, values)})
        try:
            async with self._pool.connection() as conn:
                await conn.execute(_register_sql(len(documents)), params)
        except psycopg.errors.UniqueViolation as exc:
            raise DuplicateUniqueId(_duplicate_value(exc)) from exc
        return entry_uuids

    async def documents(
        self, *, patient: str | None = None, unique_ids: list[str] | None = None,
        entry_uuids: list[uuid.UUID] | None = None, statuses: list[str] | None = None,
        include_signatures: bool = True,
    ) -> list[StoredDocument]:
        clauses, params = [], []
        for column, value in (("patient", patient),):
            if value is not None:
                clauses.append(f"{column} = %s")
                params.append(value)
        for column, values in (("unique_id", unique_ids), ("entry_uuid", entry_uuids), ("status", statuses)):
            if values is not None:
                clauses.append(f"{column} = any(%s)")
                params.append(values)
        if not include_signatures:
            clauses.append("not is_signature")
        where = f"where {' and '.join(clauses)}" if clauses else ""
        async with self._pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(f"select {_COLUMNS} from dmp_sim.documents {where} order by id", params)
            return [StoredDocument(**row) for row in await cur.fetchall()]

    async def content(self, entry_uuid: uuid.UUID) -> tuple[bytes, str] | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "select content, mime_type from dmp_sim.documents where entry_uuid = %s", (entry_uuid,)
            )
            row = await cur.fetchone()
        return (bytes(row[0]), row[1]) if row else None

    async def set_status(self, entry_uuid: uuid.UUID, original: str, new: str) -> bool:
        """Change a document's availabilityStatus if it is still `original` (ITI-57)."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "update dmp_sim.documents set status = %s where entry_uuid = %s and status = %s",
                (new, entry_uuid, original),
            )
            return cur.rowcount == 1

    async def count(self) -> int:
        async with self._pool.connection() as conn:
            cur = await conn.execute("select count(*) from dmp_sim.documents where not is_signature")
            return (await cur.fetchone())[0]

    async def reset(self) -> None:
        async with self._pool.connection() as conn:
            await conn.execute("truncate dmp_sim.documents, dmp_sim.submission_sets")


def _duplicate_value(exc: psycopg.errors.UniqueViolation) -> str | None:
    """The uniqueId named in PostgreSQL's detail: `Key (unique_id)=(1.2.3) already exists.`"""
    detail = exc.diag.message_detail or ""
    start, end = detail.find(")=("), detail.rfind(") already")
    return detail[start + 3 : end] if start >= 0 and end > start else None
