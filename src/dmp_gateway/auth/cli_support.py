"""What `dmp-gateway token` and `dmp-gateway client add|hash-secret` call; cli.py only parses and prints."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from pathlib import Path

from dmp_gateway.auth.clients import ClientConfig, ClientRegistry, ClientsFileError, hash_secret, write_clients
from dmp_gateway.auth.setup import clients_path, embedded_issuer
from dmp_gateway.config import Settings


def _scope_list(scopes: str | Iterable[str]) -> list[str]:
    """Scopes given as "A B C", as ["A", "B C"], or a mix: one flat list."""
    items = [scopes] if isinstance(scopes, str) else list(scopes)
    return [scope for item in items for scope in item.split()]


def issue_dev_token(
    settings: Settings,
    workspace: str,
    identities: Iterable[str],
    scopes: str | Iterable[str],
    *,
    subject: str = "dev-user",
    ttl: int | None = None,
) -> str:
    """A user token from the embedded issuer, as a login server would give (seed-flow §2.2), for dev and tests."""
    if settings.oidc_jwks_url is not None:
        raise ValueError("DMPGW_OIDC_JWKS_URL is set: tokens come from that provider, this one would not verify")
    return embedded_issuer(settings).user_token(
        workspace_id=workspace, identities=list(identities), scopes=_scope_list(scopes), subject=subject, ttl=ttl
    )


def add_client(
    settings: Settings,
    client_id: str,
    workspace_id: str,
    scopes: str | Iterable[str],
    *,
    secret: str | None = None,
    database_reference: str | None = None,
    organization: str | None = None,
    path: Path | None = None,
) -> tuple[ClientConfig, str]:
    """Add a client to the clients file; returns it and its secret (generated unless given), to print once."""
    path = path or clients_path(settings)
    registry = ClientRegistry.load(path, env={})
    if registry.get(client_id) is not None:
        raise ClientsFileError(f"{path}: client_id {client_id!r} already exists")
    secret = secret or secrets.token_urlsafe(32)
    client = ClientConfig(
        client_id=client_id,
        secret_hash=hash_secret(secret),
        workspace_id=workspace_id,
        scopes=tuple(_scope_list(scopes)),
        database_reference=database_reference,
        organization=organization,
    )
    write_clients(path, [*registry, client])
    return client, secret


__all__ = ["issue_dev_token", "add_client", "hash_secret"]
