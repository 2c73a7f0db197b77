"""Deliveries in PostgreSQL: state with compare-and-set transitions, timeline, CDA, and jobs.

Every state change and its timeline event are written in one transaction; a job is enqueued in the
same transaction as the state that needs it (procrastinate's defer function, called on our
connection), so there is never a request without its job or a job without its request. The
resource side effects (Communication, CommunicationRequest.status) are FHIR's business: they come
in as `ResourceEffects`, called inside the same transactions.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol

import orjson
import pybase64
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from dmp_gateway import observability
from dmp_gateway.delivery.model import BuiltDocument, Delivery, Outcome, Reason, TimelineEvent
from dmp_gateway.delivery.states import Event, IllegalTransition, State, next_state, sources_of, target_of
from dmp_gateway.ins import Ins
from dmp_gateway.store import statistics
from dmp_gateway.store.binaries import BlobReader, whole_blob_ctes
from dmp_gateway.store.errors import ResourceNotFound, StoredDocumentDamaged
from dmp_gateway.store.resources import CreatedAlso, StoredResource

QUEUE = "delivery"
TASK = "dmp_gateway.deliver"


class ResourceEffects(Protocol):
    """What the FHIR side does when a delivery moves (on the store's connection, inside its transaction
    when the move has one: all but `start`)."""

    async def started(self, conn: AsyncConnection, delivery: Delivery,
                      request: StoredResource | None = None) -> None: ...
    async def finished(self, conn: AsyncConnection, delivery: Delivery, outcome: Outcome) -> None: ...
    async def cancelled(self, conn: AsyncConnection, delivery: Delivery) -> None: ...


async def enqueue(conn: AsyncConnection, delivery_id: str, at: datetime | None = None, *, retry: bool = False) -> None:
    """Defer the delivery job on `conn`, i.e. inside the caller's transaction, under the delivery's lock.

    The lock is read from the delivery row in the same statement: every later job of a delivery (retry,
    `$send`, requeue) takes the lock chosen when the request was stored, which `registration` gave the
    first one. procrastinate runs a lock's jobs by priority, then by id, and a job waiting for its time
    still holds its turn: a retry is a new job (a higher id), so it gets a higher priority to stay ahead
    of the person's requests posted after the one it retries; due retries are also fetched before first
    attempts.
    """
    await conn.execute(
        "select " + _defer_job("(select " + _LOCK_OF_ROW + " from delivery where request_id = %(id)s)"),
        {**_job_parameters(at, retry=retry), "id": delivery_id})


def _defer_job(lock_sql: str) -> str:
    """procrastinate's defer function for the job of delivery `%(id)s` (other parameters: `_job_parameters`)."""
    return ("procrastinate_defer_jobs_v1(array[row(%(queue)s, %(task)s, %(priority)s, " + lock_sql +
            ", null, jsonb_build_object('request_id', %(id)s::text), %(run_at)s)::procrastinate_job_to_defer_v1])")


def _job_parameters(at: datetime | None = None, *, retry: bool = False) -> dict[str, object]:
    return {"queue": QUEUE, "task": TASK, "priority": RETRY_PRIORITY if retry else 0, "run_at": at}


#: procrastinate priority of a retry's job (first attempts have 0).
RETRY_PRIORITY = 1


def job_lock(workspace_id: str, patient_id: str, ins_value: str | None = None) -> str:
    """The procrastinate lock of a delivery's jobs: they run one at a time, in order, per person.

    The person is their INS, not the Patient resource (the seed flow posts a Patient per document); a
    Patient with no usable INS is its own lock.
    """
    return f"ins:{workspace_id}:{ins_value}" if ins_value else f"patient:{workspace_id}:{patient_id}"


#: The lock of a delivery row, in SQL: rows from before revision 0007 have no job_lock, and take what
#: `job_lock` gives without an INS.
_LOCK_OF_ROW = "coalesce(job_lock, 'patient:' || workspace_id || ':' || patient_id)"


#: States in which a delivery must have a pending job.
_NEEDS_A_JOB = (State.QUEUED, State.RETRY_SCHEDULED, State.CHECKING_DMP, State.BUILDING_CDA, State.SUBMITTING)

_COLUMNS = ("request_id, workspace_id, patient_id, state, immediate, attempts, unique_id, "
            "(cda_blob_id is not null or cda_pdf_blob_id is not null) as has_document, reason, reason_text,"
            " created_at, updated_at")


#: The FROM of a transition's final select that also returns the request's current version (`start`:
#: the attempt's first read of it, in the same statement).
_REQUEST_COLUMNS = (", request.version as request_version, request.last_updated as request_updated,"
                    " request.content::text as request_content from moved left join lateral (select version,"
                    " last_updated, content from fhir_resource r where r.res_type = 'CommunicationRequest'"
                    " and r.id = moved.request_id and r.is_current) as request on true")


class _Sql(str):
    """An SQL expression in a transition's SET list or timeline details, evaluated on the moved row."""


#: The `start` event's timeline details: the attempt number the same statement counted.
_ATTEMPT_DETAILS = _Sql("jsonb_build_object('attempt', attempts)")

#: Each event's source states, as the text array the compare-and-set takes.
_SOURCES = {event: [state.value for state in sources_of(event)] for event in Event}


def _delivery(row: dict) -> Delivery:
    return Delivery(
        request_id=row["request_id"], workspace_id=row["workspace_id"], patient_id=row["patient_id"],
        state=State(row["state"]), immediate=row["immediate"], attempts=row["attempts"],
        unique_id=row["unique_id"], has_document=row["has_document"],
        reason=Reason(row["reason"]) if row["reason"] else None, reason_text=row["reason_text"],
        created_at=row["created_at"], updated_at=row["updated_at"])


class PostgresDeliveryStore:
    """The DeliveryStore port on PostgreSQL (delivery/ports.py)."""

    def __init__(self, pool: AsyncConnectionPool, effects: ResourceEffects) -> None:
        self.pool = pool
        self.effects = effects
        self.blobs = BlobReader(pool)

    async def register(self, conn: AsyncConnection, request_id: str, workspace_id: str, patient_id: str,
                       document_reference_id: str, immediate: bool, *, lock: str | None = None) -> None:
        """A new CommunicationRequest's delivery, inside the transaction that stores the request (the API
        folds `registration` into the request's insert instead)."""
        also = self.registration(patient_id, document_reference_id, immediate,
                                 lock=lock or job_lock(workspace_id, patient_id))
        await conn.execute(f"with {also.ctes} select {also.result}",
                           {**also.params, "id": request_id, "ws": workspace_id})

    @staticmethod
    def registration(patient_id: str, document_reference_id: str, immediate: bool, *, lock: str) -> CreatedAlso:
        """A new CommunicationRequest's delivery as CTEs of the statement that creates the request
        (parameters `%(id)s`, the request id, and `%(ws)s`, its workspace): the row, its first two
        timeline events (in order: the timeline is read by id) and, in immediate mode, its job.

        `lock`: its jobs' `job_lock` (`job_lock()`: the Patient's INS when it carries one). It is given,
        not read back: a statement does not see the rows its own CTEs insert.
        """
        event = Event.CREATED_IMMEDIATE if immediate else Event.CREATED_NEEDS_VALIDATION
        state = next_state(State.RECEIVED, event)
        return CreatedAlso(
            "delivery_row as (insert into delivery (request_id, workspace_id, patient_id, document_reference_id,"
            "  state, immediate, job_lock) values (%(id)s, %(ws)s, %(patient)s, %(docref)s, %(state)s,"
            "  %(immediate)s, %(lock)s) returning request_id),"
            " delivery_events as (insert into delivery_event (request_id, step, outcome, details)"
            "  select delivery_row.request_id, e.step, 'ok', e.details::jsonb from delivery_row,"
            "  unnest(%(steps)s::text[], %(details)s::text[]) with ordinality as e(step, details, n) order by e.n),"
            " delivery_job as (select " + _defer_job("%(lock)s") + " from delivery_row where %(queued)s)",
            "(select count(*) from delivery_job)",
            {**_job_parameters(), "patient": patient_id, "docref": document_reference_id, "state": state.value,
             "immediate": immediate, "queued": state is State.QUEUED, "lock": lock,
             "steps": [State.RECEIVED.value, state.value],
             "details": [orjson.dumps({"immediate": immediate}).decode(), "{}"]})

    async def get(self, request_id: str) -> Delivery:
        async with self.pool.connection() as conn:
            return await self._get(conn, request_id)

    async def _get(self, conn: AsyncConnection, request_id: str, *, lock: bool = False) -> Delivery:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(f"select {_COLUMNS} from delivery where request_id = %s" + (" for update" if lock else ""),
                          (request_id,))
        row = await cur.fetchone()
        if row is None:
            raise ResourceNotFound(f"no delivery for CommunicationRequest/{request_id}")
        return _delivery(row)

    async def _move(self, conn: AsyncConnection, request_id: str, event: Event, outcome: str, details: dict | _Sql,
                    *, also: tuple[str, dict[str, object]] | None = None, **columns: object) -> Delivery:
        """Compare-and-set transition plus its timeline event, in one statement (the worker's hot path).

        `also`: more CTEs (SQL, named parameters) that may select from `moved`, so they write only when the
        transition happens, in the same statement. A `_Sql` column value or `details` is an SQL
        expression on the moved row rather than a parameter.
        """
        return _delivery(await self._move_row(conn, request_id, event, outcome, details, also=also, **columns))

    async def _move_row(self, conn: AsyncConnection, request_id: str, event: Event, outcome: str,
                        details: dict | _Sql, *, also: tuple[str, dict[str, object]] | None = None,
                        with_request: bool = False, **columns: object) -> dict:
        """`_move`'s row; `with_request`: with the request's current version (`request_*` columns)."""
        sets = "".join(f", {name} = {value}" if isinstance(value, _Sql) else f", {name} = %(set_{name})s"
                       for name, value in columns.items())
        params = {f"set_{name}": value for name, value in columns.items() if not isinstance(value, _Sql)}
        logged_details = details if isinstance(details, _Sql) else "%(details)s::jsonb"
        if not isinstance(details, _Sql):
            params["details"] = orjson.dumps(details).decode()
        extra_sql, extra_params = also or ("", {})
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(
            f"with moved as (update delivery set state = %(target)s, updated_at = now(){sets}"
            f"  where request_id = %(request_id)s and state = any(%(sources)s) returning *),"
            f" logged as (insert into delivery_event (request_id, step, outcome, details)"
            f"  select request_id, state, %(outcome)s, {logged_details} from moved){extra_sql}"
            f" select {_COLUMNS}{_REQUEST_COLUMNS if with_request else ' from moved'}",
            {**params, **extra_params, "target": target_of(event).value, "request_id": request_id,
             "sources": _SOURCES[event], "outcome": outcome})
        row = await cur.fetchone()
        if row is None:
            current = await self._get(conn, request_id)
            raise IllegalTransition(current.state, event)
        return row

    async def _event(self, conn: AsyncConnection, request_id: str, step: str, outcome: str, details: dict) -> None:
        await conn.execute("insert into delivery_event (request_id, step, outcome, details) values (%s, %s, %s, %s)",
                           (request_id, step, outcome, orjson.dumps(details).decode()))

    async def start(self, request_id: str) -> Delivery:
        """The `start` transition counting the attempt in SQL, then its FHIR effect.

        No read before it: the compare-and-set on the runnable states is the check (a stale job's
        delivery is in none of them, and IllegalTransition tells which one it is in).

        The transition also returns the request's current version, which the FHIR effect keeps for the
        attempt; setting the request `active` (the seed posts it `suspended`) is a second statement, made
        from that copy, and only when it is not `active` yet (`$send`/`$retry` set it in their own
        transaction). No transaction wraps the two, each atomic alone: a crash between them leaves an
        attempt under way on a request still `suspended`, which the next start or the outcome sets right.
        """
        async with self.pool.connection() as conn:
            row = await self._move_row(conn, request_id, Event.START, "ok", _ATTEMPT_DETAILS, with_request=True,
                                       attempts=_Sql("attempts + 1"))
            delivery = _delivery(row)
            request = None
            if row["request_version"] is not None:
                request = StoredResource("CommunicationRequest", request_id, row["request_version"],
                                         delivery.workspace_id, row["request_updated"], row["request_content"].encode())
            await self.effects.started(conn, delivery, request)
            return delivery

    async def transition(self, request_id: str, event: Event, *, details: dict | None = None,
                         outcome: str = "ok") -> Delivery:
        # One statement: atomic alone, no BEGIN/COMMIT round trips (`start`, which has a FHIR effect,
        # and the final transitions have methods of their own).
        async with self.pool.connection() as conn:
            return await self._move(conn, request_id, event, outcome, details or {})

    async def save_document(self, request_id: str, built: BuiltDocument, *, details: dict) -> Delivery:
        """Store the CDA and take the `cda_built` transition, in one statement (no BEGIN/COMMIT).

        A CDA wrapping a stored PDF unchanged (`built.embedded`) is kept as its head and tail around a
        reference to that PDF (migration 0006); any other is written whole as a blob, whose CTEs
        select from `moved` so nothing is written when the transition is refused.
        """
        cda = built.cda
        columns: dict[str, object] = dict(
            unique_id=built.unique_id, cda_sha1=built.sha1, cda_size=len(cda),
            ins_value=built.ins.value, ins_oid=built.ins.oid, replaces_unique_id=built.replaces_unique_id,
            pdf_note=orjson.dumps(built.pdf_record).decode())
        also = None
        if built.embedded is not None:
            layout = built.embedded
            columns.update(cda_head=cda[:layout.head], cda_tail=cda[len(cda) - layout.tail:],
                           cda_pdf_blob_id=uuid.UUID(layout.ref))
        else:
            blob_id = uuid.uuid4()
            ctes, params = whole_blob_ctes("moved", blob_id, "application/xml", cda)
            also = (f", {ctes}", params)
            columns["cda_blob_id"] = blob_id
        async with self.pool.connection() as conn:
            return await self._move(conn, request_id, Event.CDA_BUILT, "ok", details, also=also, **columns)

    async def load_document(self, request_id: str) -> BuiltDocument | None:
        """The CDA as it was stored before the first submission, byte for byte (or None: not built)."""
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute("select cda_blob_id, cda_pdf_blob_id, cda_head, cda_tail, cda_sha1, cda_size, unique_id,"
                              " ins_value, ins_oid, replaces_unique_id, pdf_note from delivery where request_id = %s",
                              (request_id,))
            row = await cur.fetchone()
        if row is None:
            return None
        if row["cda_pdf_blob_id"] is not None:
            pdf = await self.blobs.read_all(row["cda_pdf_blob_id"])
            cda = b"".join((bytes(row["cda_head"]), pybase64.b64encode(pdf), bytes(row["cda_tail"])))
        elif row["cda_blob_id"] is not None:
            cda = await self.blobs.read_all(row["cda_blob_id"])
        else:
            return None
        built = BuiltDocument(Ins(row["ins_value"], row["ins_oid"]), cda, row["unique_id"],
                              row["replaces_unique_id"], orjson.loads(row["pdf_note"] or "{}"))
        # Never send other bytes than the first attempt did: the DMP would see another document.
        if len(cda) != row["cda_size"] or built.sha1 != row["cda_sha1"]:
            raise StoredDocumentDamaged(f"the stored CDA of CommunicationRequest/{request_id} no longer "
                                        "matches its SHA-1: its PDF, its ends or its blob were altered")
        return built

    async def cda_bytes(self, request_id: str) -> bytes | None:
        """The CDA as submitted (console download, `dmp-gateway cda` of a built request)."""
        built = await self.load_document(request_id)
        return built.cda if built else None

    async def schedule_retry(self, request_id: str, at: datetime, *, details: dict) -> Delivery:
        async with self.pool.connection() as conn, conn.transaction():
            delivery = await self._move(conn, request_id, Event.TRANSIENT, "retry", details, next_attempt_at=at)
            await enqueue(conn, request_id, at, retry=True)
            return delivery

    async def finish(self, request_id: str, event: Event, outcome: Outcome, *, details: dict) -> Delivery:
        async with self.pool.connection() as conn, conn.transaction():
            delivery = await self._move(
                conn, request_id, event, "ok" if outcome.delivered else "error", details,
                reason=outcome.reason.value if outcome.reason else None, reason_text=outcome.text,
                next_attempt_at=None)
            await self.effects.finished(conn, delivery, outcome)
        # Counted once the outcome is committed: the one place a delivery becomes final.
        observability.delivery_finished(None if outcome.delivered else outcome.reason)
        return delivery

    async def restart(self, request_id: str, event: Event, *, details: dict) -> Delivery:
        """send / retry: back to queued with a job; a retry rebuilds the CDA but keeps the uniqueId."""
        columns: dict[str, object] = {"reason": None, "reason_text": None}
        if event is Event.RETRY:
            columns.update(attempts=0, cda_blob_id=None, cda_pdf_blob_id=None, cda_head=None, cda_tail=None)
        async with self.pool.connection() as conn, conn.transaction():
            delivery = await self._move(conn, request_id, event, "ok", details, **columns)
            await enqueue(conn, request_id)
            await self.effects.started(conn, delivery)
            return delivery

    async def cancel(self, request_id: str, *, details: dict) -> Delivery:
        async with self.pool.connection() as conn, conn.transaction():
            delivery = await self._move(conn, request_id, Event.CANCEL, "ok", details, next_attempt_at=None)
            await self.effects.cancelled(conn, delivery)
            return delivery

    async def timeline(self, request_id: str) -> list[TimelineEvent]:
        async with self.pool.connection() as conn:
            cur = await conn.execute("select at, step, outcome, details from delivery_event where request_id = %s"
                                     " order by id", (request_id,))
            return [TimelineEvent(*row) for row in await cur.fetchall()]

    async def relock(self, request_id: str, lock: str) -> None:
        """Set the lock again before `$send` or `$retry`, from the Patient as it is now: the typical retry
        follows a corrected NIR. Only a delivery with no job (awaiting validation, failed) is relocked."""
        async with self.pool.connection() as conn:
            await conn.execute("update delivery set job_lock = %s where request_id = %s and state = any(%s)",
                               (lock, request_id, [State.AWAITING_VALIDATION.value, State.FAILED.value]))

    async def waiting_for(self, request_id: str) -> str | None:
        """The request whose job holds this one's back (the same person's, earlier or retrying), if any.

        The same rule as procrastinate's fetch: a job waits while a job with its lock runs, or waits
        with a higher priority or, at the same priority, a lower id.
        """
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "select other.args->>'request_id' from procrastinate_jobs mine join procrastinate_jobs other"
                " on other.lock = mine.lock and other.id <> mine.id and (other.status = 'doing'"
                "  or (other.status = 'todo' and (other.priority > mine.priority"
                "   or (other.priority = mine.priority and other.id < mine.id))))"
                " where mine.task_name = %s and mine.args->>'request_id' = %s and mine.status = 'todo'"
                " order by other.status = 'doing' desc, other.priority desc, other.id limit 1",
                (TASK, request_id))
            row = await cur.fetchone()
            return row[0] if row else None

    async def list(self, workspace_id: str | None = None, states: tuple[State, ...] = (), limit: int = 100,
                   offset: int = 0) -> list[Delivery]:
        """Newest first, for the console."""
        where, args = ["true"], []
        if workspace_id:
            where.append("workspace_id = %s")
            args.append(workspace_id)
        if states:
            where.append("state = any(%s)")
            args.append([s.value for s in states])
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(f"select {_COLUMNS} from delivery where {' and '.join(where)}"
                              " order by updated_at desc limit %s offset %s", (*args, limit, offset))
            return [_delivery(r) for r in await cur.fetchall()]

    async def requeue_orphans(self, older_than_seconds: float = 60.0) -> list[str]:
        """Enqueue a job for every delivery that needs one and has none (the last safety net).

        A job can vanish while its delivery still needs it: cancelled by a worker shutdown, failed on
        a bug before the delivery was parked, deleted by hand. Such a request would wait forever;
        this finds them (state still working or queued, no job todo/doing, quiet for a while) and
        enqueues them again, so no accepted request is ever lost.
        """
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "select d.request_id from delivery d"
                " where d.state = any(%s) and d.updated_at < now() - make_interval(secs => %s)"
                " and not exists (select 1 from procrastinate_jobs j where j.task_name = %s"
                "   and j.args->>'request_id' = d.request_id and j.status in ('todo', 'doing'))"
                " for update of d skip locked",
                ([s.value for s in _NEEDS_A_JOB], older_than_seconds, TASK))
            orphans = await cur.fetchall()
            for (request_id,) in orphans:
                await self._event(conn, request_id, "requeued", "info", {"why": "no job was pending"})
                # Ahead of the person's later requests, as its lost job was.
                await enqueue(conn, request_id, retry=True)
            return [r[0] for r in orphans]

    async def refresh_planner_statistics(self) -> list[str]:
        """ANALYZE the tables whose size drifted from what the planner believes (store/statistics.py)."""
        async with self.pool.connection() as conn:
            return await statistics.refresh(conn)

    async def counts(self) -> dict[str, int]:
        async with self.pool.connection() as conn:
            cur = await conn.execute("select state, count(*) from delivery group by state")
            return {state: n for state, n in await cur.fetchall()}
