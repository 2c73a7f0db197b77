"""Who is calling and in which workspace: the bearer token checked once per request (auth/ does JWT)."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from dmp_gateway.auth.errors import Forbidden, Unauthorized
from dmp_gateway.auth.principal import Principal
from dmp_gateway.store.workspaces import Workspace


@dataclass(frozen=True, slots=True)
class Caller:
    principal: Principal
    workspace: Workspace


async def authorize(request: Request, scope: str) -> Caller:
    """The verified caller holding `scope` in a provisioned workspace; 401/403 otherwise."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("an access token is required (Authorization: Bearer <token>)")
    principal = await request.app.state.auth.verifier.verify(token.strip())
    request.state.principal = principal  # the access log shows subject and workspace, never the token
    if not principal.has_scope(scope):
        raise Forbidden(f"scope {scope} is required for this interaction")
    workspace = await request.app.state.services.workspaces.get(principal.workspace_id)
    if workspace is None:
        raise Forbidden(f"workspace {principal.workspace_id} is not provisioned on this gateway")
    return Caller(principal, workspace)
