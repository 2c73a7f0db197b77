"""Who is calling and in which workspace: the bearer token checked once per request (auth/ does JWT)."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from dmp_gateway.auth.dependencies import current_principal
from dmp_gateway.auth.errors import Forbidden
from dmp_gateway.auth.principal import Principal
from dmp_gateway.store.workspaces import Workspace


@dataclass(frozen=True, slots=True)
class Caller:
    principal: Principal
    workspace: Workspace


async def authorize(request: Request, scope: str) -> Caller:
    """The verified caller holding `scope` in a provisioned workspace; 401/403 otherwise."""
    principal = await current_principal(request)  # 401 with WWW-Authenticate; sets request.state.principal
    if not principal.has_scope(scope):
        raise Forbidden(scope=scope)
    workspace = await request.app.state.services.workspaces.get(principal.workspace_id)
    if workspace is None:
        raise Forbidden(f"workspace {principal.workspace_id} is not provisioned on this gateway")
    return Caller(principal, workspace)
