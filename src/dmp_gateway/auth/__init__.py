"""Access control (seed-flow §2, §5.2): bearer JWTs, scopes, workspaces, and an embedded OAuth2 issuer.

    principal.py     Principal: who calls, which scopes, who they may send/request as (stdlib only)
    errors.py        Unauthorized (401), Forbidden (403), OAuthError (token endpoint) (stdlib only)
    verifier.py      TokenVerifier: token -> Principal, with key and token caches
    jwks.py          key sources: the embedded key, or a remote JWKS with refetch on rotation
    issuer.py        TokenIssuer: user and client-credentials tokens
    keys.py          the issuer's signing key in $DMPGW_DATA_DIR/keys/
    clients.py       client-credentials applications, hashed secrets
    routes.py        /oauth/token, /.well-known/jwks.json, /.well-known/openid-configuration
    dependencies.py  current_principal, require_scope, scope_for (FastAPI)
    setup.py         bootstrap_auth(settings) -> AuthServices
"""


from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dmp_gateway.auth.errors import AuthError, Forbidden, OAuthError, Unauthorized
from dmp_gateway.auth.principal import Principal

if TYPE_CHECKING:
    from dmp_gateway.auth.setup import AuthServices, bootstrap_auth


def __getattr__(name: str) -> Any:
    # Lazy, so that `from dmp_gateway.auth.principal import Principal` (delivery/, stdlib only) does not
    # pull in joserfc, httpx and pydantic-settings through this package's __init__.
    if name in {"AuthServices", "bootstrap_auth"}:
        from dmp_gateway.auth import setup

        return getattr(setup, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["AuthError", "AuthServices", "Forbidden", "OAuthError", "Principal", "Unauthorized", "bootstrap_auth"]
