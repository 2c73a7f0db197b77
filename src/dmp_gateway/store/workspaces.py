"""Workspaces: the healthcare organizations using the gateway, each with its DMP channel Device.

A workspace is an Organization resource whose id is the workspace id (what `requester.agent` and the
`currentWorkspaceId` claim point to); its Device is the "device provided by Lifen" of the seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg_pool import AsyncConnectionPool


@dataclass(frozen=True, slots=True)
class Workspace:
    id: str
    name: str
    #: Id of the workspace's DMP channel Device.
    dmp_device_id: str
    created_at: datetime

    @property
    def organization(self) -> str:
        return f"Organization/{self.id}"

    @property
    def dmp_device(self) -> str:
        return f"Device/{self.dmp_device_id}"


class WorkspaceDirectory:
    """Workspaces by id, cached in-process: they are created by an operator and never change id."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool
        self._cache: dict[str, Workspace] = {}

    async def get(self, workspace_id: str) -> Workspace | None:
        cached = self._cache.get(workspace_id)
        if cached is not None:
            return cached
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "select id, name, dmp_device_id, created_at from workspace where id = %s", (workspace_id,))
            row = await cur.fetchone()
        if row is None:
            return None
        ws = Workspace(*row)
        self._cache[workspace_id] = ws
        return ws

    async def list(self) -> list[Workspace]:
        async with self.pool.connection() as conn:
            cur = await conn.execute("select id, name, dmp_device_id, created_at from workspace order by created_at")
            return [Workspace(*r) for r in await cur.fetchall()]
