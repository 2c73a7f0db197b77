"""The composition root: real adapters built from Settings, handed to the API, the worker and the CLI.

Nothing here runs at import time; `open_services` is called from an app lifespan or a command.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from psycopg_pool import AsyncConnectionPool

from dmp_gateway.auth.setup import AuthServices, bootstrap_auth
from dmp_gateway.config import Settings
from dmp_gateway.store.binaries import BlobReader
from dmp_gateway.store.db import open_pool
from dmp_gateway.store.embedded import database_url
from dmp_gateway.store.migrate import migrate
from dmp_gateway.store.resources import OnWrite, PostgresResourceStore
from dmp_gateway.store.workspaces import WorkspaceDirectory

#: Builds the in-transaction hook for a write of one resource type: (caller, resource) -> hook.
WriteHookFactory = Callable[[object, dict], OnWrite | None]


@dataclass
class Services:
    settings: Settings
    database_url: str
    pool: AsyncConnectionPool
    resources: PostgresResourceStore
    blobs: BlobReader
    workspaces: WorkspaceDirectory
    auth: AuthServices
    #: Per resource type, what else must happen in the write's transaction (delivery enqueues there).
    write_hooks: dict[str, WriteHookFactory] = field(default_factory=dict)

    def write_hook(self, resource_type: str, caller: object, data: dict) -> OnWrite | None:
        factory = self.write_hooks.get(resource_type)
        return factory(caller, data) if factory else None

    async def close(self) -> None:
        await self.pool.close()


def prepare_database(settings: Settings, *, run_migrations: bool | None = None) -> str:
    """The database URL (starting the embedded server if needed), migrated when asked or embedded."""
    url = database_url(settings)
    if run_migrations if run_migrations is not None else settings.embedded:
        migrate(url)
    return url


async def open_services(settings: Settings, url: str | None = None) -> Services:
    url = url or prepare_database(settings)
    pool = await open_pool(url, min_size=settings.db_pool_min, max_size=settings.db_pool_max)
    return Services(
        settings=settings, database_url=url, pool=pool,
        resources=PostgresResourceStore(pool), blobs=BlobReader(pool),
        workspaces=WorkspaceDirectory(pool), auth=bootstrap_auth(settings),
    )
