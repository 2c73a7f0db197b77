"""FastAPI dependencies that guard the FHIR routes: who is calling (401) and may they do this (403).

    @router.post("/Patient", dependencies=[Depends(require_scope(scope_for("Patient", "create")))])

Scope names follow seed-flow §2.1: `<TYPE>_<INTERACTION>` in upper case, e.g. PATIENT_CREATE.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Literal

from fastapi import Depends, Request

from dmp_gateway.auth.errors import Forbidden, Unauthorized
from dmp_gateway.auth.principal import Principal
from dmp_gateway.auth.routes import get_auth_services

Interaction = Literal["create", "read", "search", "update"]
_INTERACTIONS = frozenset(("create", "read", "search", "update"))


async def current_principal(request: Request) -> Principal:
    """The Principal of the request's `Authorization: Bearer` token (RFC 6750 §2.1); Unauthorized otherwise.

    FastAPI caches it per request, so a router-level `require_scope` and a route asking for the
    Principal verify the token once.
    """
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized("a bearer token is required (Authorization: Bearer <token>)", error=None)
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("the Authorization header must be 'Bearer <token>'", error="invalid_request")
    principal = await get_auth_services(request).verifier.verify(token)
    request.state.principal = principal  # for access logs: subject and workspace, never the token
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_scope(scope: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency returning the Principal if its token grants `scope`, else raising Forbidden (403)."""

    async def principal_with_scope(principal: CurrentPrincipal) -> Principal:
        if not principal.has_scope(scope):
            raise Forbidden(scope=scope)
        return principal

    principal_with_scope.__name__ = f"require_{scope.lower()}"
    return principal_with_scope


def scope_for(resource_type: str, interaction: Interaction) -> str:
    """seed-flow §2.1 scope name: `scope_for("DocumentReference", "create") == "DOCUMENTREFERENCE_CREATE"`."""
    if interaction not in _INTERACTIONS:
        raise ValueError(f"interaction must be one of {sorted(_INTERACTIONS)}, not {interaction!r}")
    return f"{resource_type.upper()}_{interaction.upper()}"


__all__ = ["current_principal", "CurrentPrincipal", "require_scope", "scope_for", "Interaction"]
