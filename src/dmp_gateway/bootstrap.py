"""The composition root: real adapters built from Settings, handed to the API, the worker and the CLI.

Nothing here runs at import time; `open_services` is called from an app lifespan or a command.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from psycopg_pool import AsyncConnectionPool

from dmp_gateway.auth.setup import AuthServices, bootstrap_auth
from dmp_gateway.config import Settings
from dmp_gateway.fhir.attempts import AttemptResources
from dmp_gateway.store.binaries import BlobReader
from dmp_gateway.store.deliveries import PostgresDeliveryStore
from dmp_gateway.store.db import open_pool
from dmp_gateway.store.embedded import database_url
from dmp_gateway.store.migrate import migrate
from dmp_gateway.store.resources import CreatedAlso, OnWrite, PostgresResourceStore, StoredResource
from dmp_gateway.store.workspaces import WorkspaceDirectory

#: procrastinate's connections in a worker: its LISTEN, its fetch loop, and the status updates of
#: jobs ending together (they queue briefly beyond this; each is one short statement).
_JOB_POOL_SIZE = 8

if TYPE_CHECKING:
    from dmp_gateway.delivery.ports import DmpPort
    from dmp_gateway.delivery.tasks import DeliveryPorts

#: Builds the in-transaction hook for a write of one resource type: (caller, resource) -> hook.
#: The resources it references, as its reference check read them, come third: the hook needs not read them again.
WriteHookFactory = Callable[[object, dict, Mapping[tuple[str, str], StoredResource]], OnWrite | CreatedAlso | None]


@dataclass
class Services:
    settings: Settings
    database_url: str
    pool: AsyncConnectionPool
    resources: PostgresResourceStore
    blobs: BlobReader
    workspaces: WorkspaceDirectory
    auth: AuthServices
    deliveries: PostgresDeliveryStore
    #: What the worker's delivery attempts read of their request and document (fhir/attempts.py).
    attempts: AttemptResources
    #: Per resource type, what else must happen in the write's transaction (delivery enqueues there).
    write_hooks: dict[str, WriteHookFactory] = field(default_factory=dict)

    def write_hook(self, resource_type: str, caller: object, data: dict,
                   referenced: Mapping[tuple[str, str], StoredResource]) -> OnWrite | CreatedAlso | None:
        factory = self.write_hooks.get(resource_type)
        return factory(caller, data, referenced) if factory else None

    async def close(self) -> None:
        await self.pool.close()


def prepare_database(settings: Settings, *, run_migrations: bool | None = None) -> str:
    """The database URL (starting the embedded server if needed), migrated when asked or embedded."""
    url = database_url(settings)
    if run_migrations if run_migrations is not None else settings.embedded:
        migrate(url)
    return url


async def open_services(settings: Settings, url: str | None = None) -> Services:
    from dmp_gateway.fhir.delivery_hook import communication_request_hook
    from dmp_gateway.fhir.outcome import FhirResourceEffects

    url = url or prepare_database(settings)
    pool = await open_pool(url, min_size=settings.db_pool_min, max_size=settings.db_pool_max)
    resources = PostgresResourceStore(pool)
    attempts = AttemptResources()
    deliveries = PostgresDeliveryStore(pool, FhirResourceEffects(resources, attempts))
    services = Services(
        settings=settings, database_url=url, pool=pool, resources=resources, blobs=BlobReader(pool),
        workspaces=WorkspaceDirectory(pool), auth=bootstrap_auth(settings), deliveries=deliveries, attempts=attempts,
    )
    services.write_hooks["CommunicationRequest"] = communication_request_hook(deliveries)
    return services


def delivery_ports(services: Services, dmp: DmpPort | None = None) -> DeliveryPorts:
    """The ports of the delivery use case: the real DMP client unless one is given (tests, demo)."""
    from dmp_gateway.delivery.retry import RetryPolicy
    from dmp_gateway.delivery.tasks import DeliveryPorts
    from dmp_gateway.dmp.wiring import soap_dmp_from_settings
    from dmp_gateway.fhir.documents import RequestDocuments

    return DeliveryPorts(
        store=services.deliveries, dmp=dmp or soap_dmp_from_settings(services.settings),
        documents=RequestDocuments(services.resources, services.settings, services.attempts),
        policy=RetryPolicy.from_settings(services.settings))


async def run_delivery_worker(services: Services, dmp: DmpPort | None = None, *, wait: bool = True) -> None:
    """Run delivery jobs on the services' pool until cancelled (wait=False: until the queue is empty)."""
    from dmp_gateway.delivery.tasks import make_app, run_worker

    ports = delivery_ports(services, dmp)
    # procrastinate's own connections (fetch, finish, heartbeats, LISTEN) commit without waiting for
    # the WAL flush. Its fetch loop is sequential: waiting for each fetch's fsync, behind the flush of
    # every PDF being written, capped a worker at about 35 jobs started per second whatever its
    # concurrency (measured: 10 jobs in flight out of 64). Safe because durability lives elsewhere:
    # jobs are enqueued on our connections in the transaction that needs them (synchronous), and a
    # job state lost in a PostgreSQL crash only re-runs an attempt, which `service.process` resumes
    # from the delivery's stored state or skips when already final.
    jobs_pool = await open_pool(services.database_url, min_size=2, max_size=_JOB_POOL_SIZE, name="dmpgw-jobs",
                                options="-c synchronous_commit=off")
    try:
        await run_worker(make_app(ports), jobs_pool, store=ports.store, concurrency=services.settings.worker_concurrency,
                         wait=wait, polling_interval=services.settings.worker_polling_seconds,
                         stalled_after=services.settings.worker_stalled_after_seconds)
    finally:
        await jobs_pool.close()
        if dmp is None:
            await ports.dmp.aclose()
