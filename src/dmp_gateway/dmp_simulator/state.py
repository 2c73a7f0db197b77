"""The fault plan in force and the counters of `GET /_sim/stats`: in memory for one process (the default), or in
PostgreSQL when `dmp-gateway dmp-sim --workers N` serves one socket with N processes, so that a plan posted to
any worker applies in all of them and the counters add up every worker's requests.

Counter keys: `requests.<service>`, `faults.<fault>`, `iti41.accepted`, `iti41.rejected.<code>`.

Shared state, schema `dmp_sim` (tables created with the registry's, registry.SCHEMA_SQL):

    fault_plan   one row: the plan without its `next` script, and a generation that every change bumps
    fault_next   the `next` script, one row per entry, taken in order with FOR UPDATE SKIP LOCKED
    counters     key → count

A request costs one round trip at its start (count it, read the generation, take its scripted fault, in one
statement) and one for its outcome; a worker reads the plan again only when the generation moved. Random draws
stay per worker: a seed restarts each worker's own sequence.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from dmp_gateway.dmp_simulator.faults import Decision, Fault, FaultInjector, FaultPlan


class LocalState:
    """One process: plan and counters in memory."""

    def __init__(self, startup: FaultPlan) -> None:
        self.startup = startup
        self.injector = FaultInjector(startup)
        self.counts: Counter[str] = Counter()

    @property
    def plan(self) -> FaultPlan:
        """The plan this process applies (its `next` script shrinks as requests consume it)."""
        return self.injector.plan

    async def begin(self, service: str) -> Decision:
        """Count a request to `service` and decide what happens to it."""
        self.counts[f"requests.{service}"] += 1
        return self.injector.decide(service)

    async def count(self, *keys: str) -> None:
        self.counts.update(keys)

    async def current_plan(self) -> FaultPlan:
        return self.injector.plan

    async def configure(self, plan: FaultPlan) -> None:
        self.injector.configure(plan)

    async def snapshot(self) -> Counter[str]:
        return Counter(self.counts)

    async def reset(self) -> None:
        """Zero the counters and restore the start-up plan."""
        self.counts.clear()
        self.injector.configure(self.startup)


_BEGIN = """
with counted as (
    insert into dmp_sim.counters (key, n) values (%(key)s, 1)
    on conflict (key) do update set n = dmp_sim.counters.n + 1
), scripted as (
    delete from dmp_sim.fault_next
    where exists (select 1 from dmp_sim.fault_plan where plan -> 'services' ? %(service)s)
      and seq = (select seq from dmp_sim.fault_next order by seq limit 1 for update skip locked)
    returning fault
)
select (select generation from dmp_sim.fault_plan), (select fault from scripted)
"""
_COUNT = """
insert into dmp_sim.counters (key, n) select key, count(*) from unnest(%s::text[]) as key group by key
on conflict (key) do update set n = dmp_sim.counters.n + excluded.n
"""
_WRITE_PLAN = """
insert into dmp_sim.fault_plan (id, plan, generation) values (1, %s, 1)
on conflict (id) do update set plan = excluded.plan, generation = dmp_sim.fault_plan.generation + 1
returning generation
"""
_WRITE_SCRIPT = """
insert into dmp_sim.fault_next (fault) select fault from unnest(%s::text[]) with ordinality as s(fault, i) order by i
"""
_FIRST_PLAN = """
insert into dmp_sim.fault_plan (id, plan, generation) values (1, %s, 1) on conflict (id) do nothing returning 1
"""
_READ_PLAN = """
select plan, generation, (select coalesce(jsonb_agg(fault order by seq), '[]') from dmp_sim.fault_next)
from dmp_sim.fault_plan
"""


async def write_plan(conn: psycopg.AsyncConnection, plan: FaultPlan) -> int:
    """Make `plan` the shared plan (its `next` replaces the script); returns the new generation."""
    async with conn.transaction():
        cursor = await conn.execute(_WRITE_PLAN, [Jsonb(plan.model_dump(mode="json", exclude={"next"}))])
        generation = (await cursor.fetchone())[0]
        await conn.execute("delete from dmp_sim.fault_next")
        if plan.next:
            await conn.execute(_WRITE_SCRIPT, [[fault.value for fault in plan.next]])
    return generation


async def publish_startup_state(database_url: str, plan: FaultPlan) -> None:
    """Before the workers start (server.run): the start-up plan in force and the counters at zero, as a
    freshly started single process has them."""
    from dmp_gateway.dmp_simulator.registry import SCHEMA_SQL

    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        async with conn.transaction():
            await conn.execute(SCHEMA_SQL)
        await conn.execute("truncate dmp_sim.counters")
        await write_plan(conn, plan)


class SharedState:
    """Several processes: plan and counters in PostgreSQL; this worker keeps a copy of the plan and reads it
    again when its generation changes."""

    def __init__(self, startup: FaultPlan, pool: Callable[[], Awaitable[AsyncConnectionPool]]) -> None:
        self.startup = startup
        self._pool = pool
        self.injector = FaultInjector(startup.model_copy(update={"next": []}))
        self._generation: int | None = None

    @property
    def plan(self) -> FaultPlan:
        """The plan as this worker last read it (without the shared `next` script)."""
        return self.injector.plan

    async def begin(self, service: str) -> Decision:
        async with (await self._pool()).connection() as conn:
            cursor = await conn.execute(_BEGIN, {"key": f"requests.{service}", "service": service})
            generation, scripted = await cursor.fetchone()
            if generation is None or generation != self._generation:
                await self._load(conn)
        if service not in self.injector.plan.services:
            return Decision()
        return self.injector.draw(Fault(scripted) if scripted else None)

    async def count(self, *keys: str) -> None:
        async with (await self._pool()).connection() as conn:
            await conn.execute(_COUNT, [list(keys)])

    async def current_plan(self) -> FaultPlan:
        async with (await self._pool()).connection() as conn:
            return await self._load(conn)

    async def configure(self, plan: FaultPlan) -> None:
        async with (await self._pool()).connection() as conn:
            await write_plan(conn, plan)
            await self._load(conn)

    async def snapshot(self) -> Counter[str]:
        async with (await self._pool()).connection() as conn:
            cursor = await conn.execute("select key, n from dmp_sim.counters")
            return Counter(dict(await cursor.fetchall()))

    async def reset(self) -> None:
        async with (await self._pool()).connection() as conn:
            await conn.execute("truncate dmp_sim.counters")
        await self.configure(self.startup)

    async def _load(self, conn: psycopg.AsyncConnection) -> FaultPlan:
        """Read the shared plan (the start-up plan is published first if there is none yet); returns it with
        the remaining `next` script, and applies it without the script (whose entries come from `begin`)."""
        row = await (await conn.execute(_READ_PLAN)).fetchone()
        if row is None:
            async with conn.transaction():
                cursor = await conn.execute(_FIRST_PLAN, [Jsonb(self.startup.model_dump(mode="json", exclude={"next"}))])
                if await cursor.fetchone() is not None and self.startup.next:
                    await conn.execute(_WRITE_SCRIPT, [[fault.value for fault in self.startup.next]])
            row = await (await conn.execute(_READ_PLAN)).fetchone()
        document, generation, script = row
        plan = FaultPlan.model_validate({**document, "next": script})
        if generation != self._generation:
            self.injector.configure(plan.model_copy(update={"next": []}))
            self._generation = generation
        return plan
