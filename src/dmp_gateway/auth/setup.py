"""Wiring of the auth package from Settings: the one place here that reads configuration.

Embedded mode (DMPGW_OIDC_JWKS_URL unset): this process is its own issuer; its key lives in
`$DMPGW_DATA_DIR/keys/` and `/oauth/token` serves the clients file. External mode: tokens come from
an OpenID provider whose JWKS we fetch; we issue none ourselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dmp_gateway.auth.clients import ClientRegistry
from dmp_gateway.auth.issuer import TokenIssuer
from dmp_gateway.auth.jwks import KeySource, RemoteJwks, StaticKeys
from dmp_gateway.auth.keys import load_or_create_signing_key
from dmp_gateway.auth.verifier import TokenVerifier
from dmp_gateway.config import Settings


@dataclass
class AuthServices:
    """What the HTTP layer needs for auth; `create_app` stores it as `app.state.auth`."""

    #: The embedded issuer; None when tokens come from an external provider.
    issuer: TokenIssuer | None
    verifier: TokenVerifier
    #: Client-credentials applications (clients file + DMPGW_CLIENTS).
    clients: ClientRegistry


def keys_dir(settings: Settings) -> Path:
    return settings.data_dir / "keys"


def clients_path(settings: Settings) -> Path:
    """DMPGW_CLIENTS_FILE, or `$DMPGW_DATA_DIR/clients.yaml` where `dmp-gateway client add` writes."""
    return settings.clients_file or settings.data_dir / "clients.yaml"


def embedded_issuer(settings: Settings) -> TokenIssuer:
    """The embedded issuer (creates its key on first use)."""
    key = load_or_create_signing_key(keys_dir(settings), settings.token_algorithm)
    return TokenIssuer(key, settings.effective_issuer, settings.oidc_audience, settings.token_ttl_seconds)


def bootstrap_auth(settings: Settings) -> AuthServices:
    """AuthServices for `settings`: embedded issuer unless DMPGW_OIDC_JWKS_URL is set."""
    clients = ClientRegistry.load(clients_path(settings))
    issuer: TokenIssuer | None = None
    keys: KeySource
    if settings.oidc_jwks_url is None:
        issuer = embedded_issuer(settings)
        keys, expected_issuer = StaticKeys([issuer.key]), issuer.issuer
    elif settings.oidc_issuer is None:
        raise ValueError("DMPGW_OIDC_ISSUER is required when DMPGW_OIDC_JWKS_URL is set (the expected 'iss')")
    else:
        keys = RemoteJwks(settings.oidc_jwks_url, timeout=settings.oidc_jwks_timeout_seconds)
        expected_issuer = settings.oidc_issuer
    verifier = TokenVerifier(
        keys,
        issuer=expected_issuer,
        audience=settings.oidc_audience,
        leeway=settings.token_leeway_seconds,
        cache_size=settings.token_cache_size,
        clients=clients,
    )
    return AuthServices(issuer=issuer, verifier=verifier, clients=clients)


__all__ = ["AuthServices", "bootstrap_auth", "embedded_issuer", "clients_path", "keys_dir"]
