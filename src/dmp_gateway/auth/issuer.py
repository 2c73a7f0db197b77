"""The embedded token issuer: signs user tokens (dev CLI) and client-credentials tokens (`/oauth/token`).

Tokens are JWTs (RFC 9068 "JWT profile for OAuth 2.0 access tokens") carrying the claims that
`principal_from_claims` reads, so the verifier needs no lookup on the hot path (seed-flow §2.2 [inferred]).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from joserfc import jwt
from joserfc.jwk import KeySetSerialization

from dmp_gateway.auth.clients import ClientConfig
from dmp_gateway.auth.keys import SigningKey
from dmp_gateway.auth.principal import (
    CLIENT_CREDENTIALS,
    GRANT_TYPE_CLAIM,
    IDENTITIES_CLAIM,
    REQUESTERS_CLAIM,
    WORKSPACE_CLAIM,
    organization_reference,
)


class TokenIssuer:
    """Signs access tokens with one key; `jwks()` publishes its public half."""

    def __init__(
        self,
        key: SigningKey,
        issuer: str,
        audience: str,
        ttl: int,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if key.kid is None or key.alg is None:
            raise ValueError("the signing key needs 'kid' and 'alg' (use keys.import_signing_key)")
        self.key = key
        self.issuer = issuer
        self.audience = audience
        self.ttl = ttl
        self._clock = clock

    @property
    def algorithm(self) -> str:
        return str(self.key.alg)

    def user_token(
        self,
        *,
        workspace_id: str,
        identities: Iterable[str],
        scopes: Iterable[str],
        subject: str = "dev-user",
        ttl: int | None = None,
    ) -> str:
        """A user access token with both Lifen claims (seed-flow §2.2), as a login server would issue."""
        reference = organization_reference(workspace_id)
        if reference is None:
            raise ValueError(f"workspace {workspace_id!r} is not an Organization id")
        claims = {
            "sub": subject,
            WORKSPACE_CLAIM: reference.removeprefix("Organization/"),
            IDENTITIES_CLAIM: list(identities),
            "scope": " ".join(scopes),
        }
        return self._sign(claims, self.ttl if ttl is None else ttl)

    def application_token(self, client: ClientConfig) -> tuple[str, int]:
        """A client-credentials access token and its lifetime in seconds (seed-flow §2.3 `expires_in`)."""
        claims = {
            "sub": client.client_id,
            "client_id": client.client_id,
            GRANT_TYPE_CLAIM: CLIENT_CREDENTIALS,
            WORKSPACE_CLAIM: client.workspace_id,
            REQUESTERS_CLAIM: list(client.requesters),
            "scope": " ".join(client.scopes),
        }
        return self._sign(claims, self.ttl), self.ttl

    def jwks(self) -> KeySetSerialization:
        """The public JWK Set (RFC 7517 §5) served at `/.well-known/jwks.json`."""
        return {"keys": [self.key.as_dict(private=False)]}

    def _sign(self, claims: dict[str, Any], ttl: int) -> str:
        now = int(self._clock())
        registered = {
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
        }
        header = {"alg": self.algorithm, "kid": self.key.kid, "typ": "at+jwt"}
        return jwt.encode(header, {**registered, **claims}, self.key, algorithms=[self.algorithm])


__all__ = ["TokenIssuer"]
