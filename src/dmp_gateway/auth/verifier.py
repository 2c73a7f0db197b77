"""Bearer token verification: JWS signature (RFC 7515), JWT claims (RFC 7519 §4.1), then a Principal.

This runs on every API request, so it keeps imported keys and a bounded LRU of already verified tokens
(token -> Principal). A cached entry lives until the token's `exp`, and never longer than `cache_ttl`,
so a key the provider withdraws stops being honoured within minutes.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable
from typing import Any

import httpx
from joserfc import jws
from joserfc.errors import ClaimError, ExpiredTokenError, JoseError, MissingClaimError
from joserfc.jwk import Key
from joserfc.jws import JWSRegistry
from joserfc.jwt import JWTClaimsRegistry

from dmp_gateway.auth.clients import ClientRegistry
from dmp_gateway.auth.errors import Unauthorized
from dmp_gateway.auth.jwks import KeySource, RemoteJwks, StaticKeys
from dmp_gateway.auth.principal import (
    CLIENT_CREDENTIALS,
    GRANT_TYPE_CLAIM,
    Principal,
    application_id,
    principal_from_claims,
)

#: Asymmetric algorithms only: accepting HS256 would let anyone holding the public key forge tokens.
DEFAULT_ALGORITHMS = ("ES256", "ES384", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
#: Longer than any real access token; refuses junk before any base64 or JSON work.
MAX_TOKEN_LENGTH = 16 * 1024


class TokenCache:
    """Bounded LRU of verified tokens; entries expire at a given time."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    def get(self, token: str, now: float) -> Principal | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        principal, until = entry
        if now >= until:
            del self._entries[token]
            return None
        self._entries.move_to_end(token)
        return principal

    def put(self, token: str, principal: Principal, until: float) -> None:
        if self.size <= 0:
            return
        self._entries[token] = (principal, until)
        self._entries.move_to_end(token)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class TokenVerifier:
    """Turns a bearer token into a Principal, or raises Unauthorized saying why (never the token)."""

    def __init__(
        self,
        keys: KeySource,
        *,
        issuer: str,
        audience: str,
        algorithms: Collection[str] = DEFAULT_ALGORITHMS,
        leeway: int = 30,
        cache_size: int = 4096,
        cache_ttl: float = 300.0,
        clients: ClientRegistry | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.cache = TokenCache(cache_size)
        self._cache_ttl = cache_ttl
        self._clients = clients
        self._clock = clock
        self._algorithms = frozenset(algorithms)
        # strict_check_header=False: providers add header fields of their own (x5t, cty...).
        self._jws_registry = JWSRegistry(algorithms=list(algorithms), strict_check_header=False)
        self._claims_registry = JWTClaimsRegistry(
            now=lambda: int(self._clock()),
            leeway=leeway,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            exp={"essential": True},
        )

    @classmethod
    def from_keys(cls, keys: Iterable[Key], *, issuer: str, audience: str, **options: Any) -> TokenVerifier:
        """A verifier for the embedded issuer's own keys."""
        return cls(StaticKeys(keys), issuer=issuer, audience=audience, **options)

    @classmethod
    def from_jwks_url(
        cls,
        url: str,
        *,
        issuer: str,
        audience: str,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
        **options: Any,
    ) -> TokenVerifier:
        """A verifier for an external OpenID provider's keys (DMPGW_OIDC_JWKS_URL)."""
        return cls(RemoteJwks(url, timeout=timeout, transport=transport), issuer=issuer, audience=audience, **options)

    async def verify(self, token: str) -> Principal:
        """The Principal of a valid token; Unauthorized if it is malformed, forged, expired or not ours."""
        now = self._clock()
        cached = self.cache.get(token, now)
        if cached is not None:
            return cached
        signed = self._parse(token)
        header = signed.headers()
        kid = header.get("kid")
        key = await self.keys.key_for(kid if isinstance(kid, str) else None)
        if key is None:
            raise Unauthorized("the token's signing key (kid) is unknown")
        claims = self._verified_claims(signed, key)
        principal = self._principal(claims)
        self.cache.put(token, principal, until=min(float(claims["exp"]), now + self._cache_ttl))
        return principal

    def _parse(self, token: str) -> jws.CompactSignature:
        if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
            raise Unauthorized("the token is not a signed JWT")
        try:
            signed = jws.extract_compact(token.encode("ascii"), registry=self._jws_registry)
        except (JoseError, ValueError) as exc:
            raise Unauthorized("the token is not a signed JWT") from exc
        if signed.headers().get("alg") not in self._algorithms:
            raise Unauthorized("the token's signing algorithm is not accepted")
        return signed

    def _verified_claims(self, signed: jws.CompactSignature, key: Key) -> dict[str, Any]:
        algorithm = signed.headers()["alg"]
        if key.alg is not None and key.alg != algorithm:
            raise Unauthorized("the token's algorithm does not match its key")
        try:
            valid = jws.validate_compact(signed, key, registry=self._jws_registry)
        except JoseError as exc:  # key type unfit for the algorithm, bad header
            raise Unauthorized("the token's signature is invalid") from exc
        if not valid:
            raise Unauthorized("the token's signature is invalid")
        try:
            claims = json.loads(signed.payload)
        except ValueError as exc:
            raise Unauthorized("the token's payload is not JSON") from exc
        if not isinstance(claims, dict):
            raise Unauthorized("the token's payload is not a JSON object")
        self._validate(claims)
        return claims

    def _validate(self, claims: dict[str, Any]) -> None:
        try:
            self._claims_registry.validate(claims)
        except ExpiredTokenError as exc:
            raise Unauthorized("the token has expired") from exc
        except MissingClaimError as exc:
            raise Unauthorized(f"the token lacks the claim(s) {exc.claim}") from exc
        except ClaimError as exc:
            raise Unauthorized(_claim_problem(exc.claim)) from exc

    def _principal(self, claims: dict[str, Any]) -> Principal:
        if claims.get(GRANT_TYPE_CLAIM) != CLIENT_CREDENTIALS or self._clients is None:
            return principal_from_claims(claims)
        client = self._clients.get(application_id(claims) or "")
        if client is None:
            return principal_from_claims(claims)
        return principal_from_claims(
            claims, workspace_fallback=client.workspace_id, requesters_fallback=client.requesters
        )


def _claim_problem(claim: str) -> str:
    return {
        "iss": "the token was not issued by the trusted issuer",
        "aud": "the token is not meant for this API (audience)",
        "nbf": "the token is not valid yet",
        "iat": "the token was issued in the future",
        "exp": "the token has no valid expiry",
    }.get(claim, f"the token's '{claim}' claim is invalid")


__all__ = ["TokenVerifier", "TokenCache", "DEFAULT_ALGORITHMS"]
