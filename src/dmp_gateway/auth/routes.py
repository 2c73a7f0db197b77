"""The embedded issuer's HTTP endpoints: JWKS, OpenID discovery, and the client-credentials token endpoint.

`POST /oauth/token` reproduces Lifen's machine-to-machine endpoint (seed-flow §2.3): a form with
`client_id`, `client_secret`, `audience`, `database_reference`, `grant_type=client_credentials`
(HTTP Basic client authentication is also accepted, RFC 6749 §2.3.1), and OAuth JSON errors such as
`{"error": "access_denied", "error_description": "Unauthorized"}`, not OperationOutcomes.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from dmp_gateway.auth.clients import ClientConfig
from dmp_gateway.auth.errors import REALM, OAuthError
from dmp_gateway.auth.issuer import TokenIssuer
from dmp_gateway.auth.principal import IDENTITIES_CLAIM, WORKSPACE_CLAIM
from dmp_gateway.auth.setup import AuthServices

router = APIRouter(tags=["auth"])

#: RFC 6749 §5.1: token responses must not be cached.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_UNAUTHORIZED = (401, "access_denied", "Unauthorized")  # Lifen's exact body for a bad client or secret


def get_auth_services(request: Request) -> AuthServices:
    """The AuthServices `create_app` put in `app.state.auth` (override this dependency in tests)."""
    services = getattr(request.app.state, "auth", None)
    if not isinstance(services, AuthServices):
        raise RuntimeError("app.state.auth is not set: create_app must store bootstrap_auth(settings) there")
    return services


Services = Annotated[AuthServices, Depends(get_auth_services)]


@router.get("/.well-known/jwks.json", name="jwks")
async def jwks(services: Services) -> JSONResponse:
    """The embedded issuer's public keys (RFC 7517 §5)."""
    issuer = services.issuer
    if issuer is None:
        return oauth_error_response(_not_here())
    return JSONResponse(issuer.jwks(), headers={"Cache-Control": "public, max-age=300"})


@router.get("/.well-known/openid-configuration")
async def openid_configuration(request: Request, services: Services) -> JSONResponse:
    """OpenID Connect Discovery 1.0 §3 metadata of the embedded issuer.

    Endpoint URLs come from the request (and its forwarded headers), not from the issuer name, which
    may be a URN so that tokens verify whatever address the server listens on.
    """
    issuer = services.issuer
    if issuer is None:
        return oauth_error_response(_not_here())
    return JSONResponse(
        {
            "issuer": issuer.issuer,
            "jwks_uri": str(request.url_for("jwks")),
            "token_endpoint": str(request.url_for("token")),
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [issuer.algorithm],
            "claims_supported": ["sub", "scope", WORKSPACE_CLAIM, IDENTITIES_CLAIM],
        }
    )


@router.post("/oauth/token", name="token")
async def token(request: Request, services: Services) -> JSONResponse:
    """Client-credentials grant (RFC 6749 §4.4) with Lifen's `audience` and `database_reference`."""
    try:
        issuer = services.issuer
        if issuer is None:
            raise _not_here()
        params = await _token_parameters(request)
        _check_grant_type(params)
        client = await _authenticated_client(request, params, services)
        _check_audience(params, issuer)
        _check_database_reference(params, client)
    except OAuthError as exc:
        return oauth_error_response(exc)
    access_token, expires_in = issuer.application_token(client)
    body = {
        "access_token": access_token,
        "scope": " ".join(client.scopes),
        "expires_in": expires_in,
        "token_type": "Bearer",
    }
    return JSONResponse(body, headers=NO_STORE)


def oauth_error_response(exc: OAuthError) -> JSONResponse:
    """RFC 6749 §5.2 JSON error, with a Basic challenge on 401 as §5.2 `invalid_client` asks."""
    headers = dict(NO_STORE)
    if exc.status == 401:
        headers["WWW-Authenticate"] = f'Basic realm="{REALM}"'
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


def _not_here() -> OAuthError:
    return OAuthError(404, "not_found", "tokens are issued by the configured OpenID provider, not here")


async def _token_parameters(request: Request) -> dict[str, str]:
    """The request's parameters; RFC 6749 §3.2 forbids repeating one. JSON bodies are accepted as Auth0 does."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        try:
            data: Any = await request.json()
        except ValueError as exc:
            raise OAuthError(400, "invalid_request", "the body is not valid JSON") from exc
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise OAuthError(400, "invalid_request", "the JSON body must be an object of strings")
        return data
    if content_type != "application/x-www-form-urlencoded":
        raise OAuthError(400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded")
    form = await request.form()
    params: dict[str, str] = {}
    for name, value in form.multi_items():
        if name in params:
            raise OAuthError(400, "invalid_request", f"parameter {name[:64]} is repeated")
        params[name] = str(value)
    return params


def _check_grant_type(params: dict[str, str]) -> None:
    grant_type = params.get("grant_type")
    if not grant_type:
        raise OAuthError(400, "invalid_request", "grant_type is required")
    if grant_type != "client_credentials":
        raise OAuthError(400, "unsupported_grant_type", "grant_type must be client_credentials")


async def _authenticated_client(request: Request, params: dict[str, str], services: AuthServices) -> ClientConfig:
    """The client proven by HTTP Basic or by client_id/client_secret in the body (RFC 6749 §2.3.1)."""
    basic = _basic_credentials(request.headers.get("authorization"))
    if basic is not None and "client_secret" in params:
        raise OAuthError(400, "invalid_request", "use one client authentication method, not two")
    client_id, secret = basic or (params.get("client_id", ""), params.get("client_secret", ""))
    if not client_id or not secret:
        raise OAuthError(*_UNAUTHORIZED)
    # scrypt takes ~50 ms of CPU: keep it off the event loop.
    client = await run_in_threadpool(services.clients.authenticate, client_id, secret)
    if client is None:
        raise OAuthError(*_UNAUTHORIZED)
    return client


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if header is None or not header[:6].lower() == "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise OAuthError(*_UNAUTHORIZED) from exc
    client_id, separator, secret = decoded.partition(":")
    if not separator:
        raise OAuthError(*_UNAUTHORIZED)
    return unquote(client_id), unquote(secret)  # RFC 6749 §2.3.1: form-urlencoded before Basic encoding


def _check_audience(params: dict[str, str], issuer: TokenIssuer) -> None:
    """Lifen (Auth0) answers 403 access_denied "Service not enabled within domain: <aud>" (seed-flow §2.3)."""
    audience = params.get("audience")
    if audience is not None and audience != issuer.audience:
        raise OAuthError(403, "access_denied", f"Service not enabled within domain: {audience[:200]}")


def _check_database_reference(params: dict[str, str], client: ClientConfig) -> None:
    if client.database_reference is not None and params.get("database_reference") != client.database_reference:
        raise OAuthError(400, "invalid_request", "A valid database_reference must be provided.")


__all__ = ["router", "get_auth_services", "oauth_error_response", "NO_STORE"]
