"""Client-credentials applications (seed-flow §2.3): who may ask the embedded issuer for a token.

The clients file (`DMPGW_CLIENTS_FILE`, YAML or JSON) is a list, or `{"clients": [...]}`, of entries like

    - client_id: hospital-ehr
      secret_hash: "scrypt$…$…"         # `dmp-gateway client hash-secret`; never the secret itself
      workspace_id: "42"                # the Organization the application sends as (§5.2 `sender`)
      scopes: PATIENT_CREATE BINARY_CREATE DOCUMENTREFERENCE_CREATE COMMUNICATIONREQUEST_CREATE
      database_reference: "db-ref-1"    # optional: then the token request must carry it
      organization: Organization/77     # optional §5.2 `requester.agent`; default Organization/<workspace_id>

`DMPGW_CLIENTS` may hold the same list as JSON (containers without a mounted file); both are merged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml
from pydantic import ConfigDict, TypeAdapter, ValidationError, field_validator
from pydantic.dataclasses import dataclass

from dmp_gateway.auth.principal import organization_reference

CLIENTS_ENV = "DMPGW_CLIENTS"

# scrypt with n=2**14, r=8 costs 16 MiB and ~50 ms: fine for a token request every few hours per client,
# expensive for someone trying secrets. These parameters are fixed by the "scrypt$salt$hash" format.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
_SCHEME = "scrypt"


def hash_secret(secret: str) -> str:
    """`scrypt$<salt>$<hash>` (unpadded base64url) of a client secret, for the clients file."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, **_SCRYPT)
    return f"{_SCHEME}${_b64(salt)}${_b64(digest)}"


def verify_secret(secret: str, secret_hash: str) -> bool:
    """Constant-time check of `secret` against a `hash_secret()` value."""
    salt, expected = _split_hash(secret_hash)
    digest = hashlib.scrypt(secret.encode(), salt=salt, **_SCRYPT)
    return hmac.compare_digest(digest, expected)


def _split_hash(secret_hash: str) -> tuple[bytes, bytes]:
    scheme, _, rest = secret_hash.partition("$")
    salt, _, digest = rest.partition("$")
    if scheme != _SCHEME or not salt or not digest:
        raise ValueError("must be 'scrypt$<salt>$<hash>' as printed by `dmp-gateway client hash-secret`")
    try:
        return _unb64(salt), _unb64(digest)
    except ValueError as exc:
        raise ValueError("salt and hash must be base64url") from exc


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    """Strict unpadded base64url: urlsafe_b64decode would silently drop invalid characters."""
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class ClientConfig:
    """One application allowed to use the client_credentials grant."""

    #: OAuth client_id; no ':' since HTTP Basic client auth splits on it (RFC 7617).
    client_id: str
    #: `hash_secret()` of the client secret.
    secret_hash: str
    #: Bare Organization id of the workspace: the application sends as `Organization/<workspace_id>`.
    workspace_id: str
    #: Scopes every token of this client gets.
    scopes: tuple[str, ...] = ()
    #: When set, the token request must carry this `database_reference` (seed-flow §2.3).
    database_reference: str | None = None
    #: The application's own Organization, allowed as `requester.agent`; default the workspace's.
    organization: str | None = None

    @field_validator("client_id")
    @classmethod
    def _check_client_id(cls, value: str) -> str:
        if not value or ":" in value or value != value.strip():
            raise ValueError("must be non-empty, without ':' or surrounding spaces")
        return value

    @field_validator("secret_hash")
    @classmethod
    def _check_secret_hash(cls, value: str) -> str:
        _split_hash(value)
        return value

    @field_validator("workspace_id", mode="before")
    @classmethod
    def _bare_workspace(cls, value: Any) -> Any:
        reference = organization_reference(str(value)) if isinstance(value, str | int) else None
        if reference is None:
            raise ValueError("must be an Organization id or 'Organization/<id>'")
        return reference.removeprefix("Organization/")

    @field_validator("scopes", mode="before")
    @classmethod
    def _split_scopes(cls, value: Any) -> Any:
        return tuple(value.split()) if isinstance(value, str) else value

    @field_validator("organization")
    @classmethod
    def _organization_reference(cls, value: str | None) -> str | None:
        if value is None:
            return None
        reference = organization_reference(value)
        if reference is None:
            raise ValueError("must be 'Organization/<id>' or an Organization id")
        return reference

    @property
    def requesters(self) -> tuple[str, ...]:
        """seed-flow §5.2: the application's Organization reference(s) for `requester.agent`."""
        return (self.organization or f"Organization/{self.workspace_id}",)


class ClientsFileError(ValueError):
    """The clients file or DMPGW_CLIENTS is not a valid list of clients."""


_CLIENT_LIST = TypeAdapter(list[ClientConfig])
# Checked against when the client_id is unknown, so a wrong id costs the same time as a wrong secret.
_DUMMY_HASH = "scrypt$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"


class ClientRegistry:
    """The configured clients, by client_id."""

    def __init__(self, clients: Iterable[ClientConfig] = ()) -> None:
        self._clients: dict[str, ClientConfig] = {}
        for client in clients:
            if client.client_id in self._clients:
                raise ClientsFileError(f"client_id {client.client_id!r} is defined twice")
            self._clients[client.client_id] = client

    @classmethod
    def load(cls, path: Path | None = None, *, env: Mapping[str, str] | None = None) -> ClientRegistry:
        """Clients from `path` (if it exists) and from the `DMPGW_CLIENTS` JSON variable of `env`."""
        env = os.environ if env is None else env
        clients: list[ClientConfig] = []
        if path is not None and path.exists():
            clients += parse_clients(path.read_text(encoding="utf-8"), source=str(path))
        if env.get(CLIENTS_ENV):
            clients += parse_clients(env[CLIENTS_ENV], source=CLIENTS_ENV)
        return cls(clients)

    def get(self, client_id: str) -> ClientConfig | None:
        return self._clients.get(client_id)

    def authenticate(self, client_id: str, secret: str) -> ClientConfig | None:
        """The client if `secret` is its secret; None otherwise, in about the same time either way."""
        client = self._clients.get(client_id)
        matches = verify_secret(secret, client.secret_hash if client else _DUMMY_HASH)
        return client if client is not None and matches else None

    def __iter__(self) -> Iterator[ClientConfig]:
        return iter(self._clients.values())

    def __len__(self) -> int:
        return len(self._clients)


def parse_clients(text: str, *, source: str) -> list[ClientConfig]:
    """Entries of a YAML/JSON clients document; errors name the source, the entry and the field."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ClientsFileError(f"{source}: not valid YAML/JSON ({exc})") from exc
    if isinstance(data, dict) and set(data) == {"clients"}:
        data = data["clients"]
    if data is None:
        return []
    try:
        return _CLIENT_LIST.validate_python(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"entry {'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise ClientsFileError(f"{source}: {problems}") from exc


def write_clients(path: Path, clients: Iterable[ClientConfig]) -> None:
    """Replace the clients file atomically, as YAML for .yaml/.yml names and JSON otherwise."""
    entries = [{k: v for k, v in _entry(client).items() if v is not None} for client in clients]
    if path.suffix in {".yaml", ".yml"}:
        text = yaml.safe_dump(entries, sort_keys=False, allow_unicode=True)
    else:
        text = json.dumps(entries, indent=2, ensure_ascii=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_text(text, encoding="utf-8")
    os.chmod(temp, 0o600)
    os.replace(temp, path)


def _entry(client: ClientConfig) -> dict[str, Any]:
    entry = asdict(client)
    entry["scopes"] = " ".join(client.scopes)
    return entry


__all__ = [
    "ClientConfig",
    "ClientRegistry",
    "ClientsFileError",
    "hash_secret",
    "verify_secret",
    "parse_clients",
    "write_clients",
    "CLIENTS_ENV",
]
