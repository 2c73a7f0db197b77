"""Where the verifier finds public keys by `kid`: the embedded issuer's own key, or a remote JWKS URL.

The remote set is fetched with httpx on first use, kept for `max_age`, and refetched early when a token
names an unknown `kid` (the issuer rotated its keys), at most once per `min_refetch_interval` so that
tokens with made-up kids cannot make us hammer the identity provider. A failed fetch never escapes as a
500: the caller gets `Unauthorized`, or keeps using the keys it already has.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

import httpx
import structlog
from joserfc import jwk
from joserfc.errors import JoseError
from joserfc.jwk import Key

from dmp_gateway.auth.errors import Unauthorized

log = structlog.get_logger(__name__)


class KeySource(Protocol):
    """The public verification keys, looked up by the token's `kid` header."""

    async def key_for(self, kid: str | None) -> Key | None:
        """The key named `kid` (or the only key when the token has no kid); None when unknown."""
        ...


class _KeyIndex:
    def __init__(self, keys: Iterable[Key] = ()) -> None:
        self.keys = [key for key in keys if key.get("use") in (None, "sig")]
        self.by_kid = {key.kid: key for key in self.keys if key.kid}

    def find(self, kid: str | None) -> Key | None:
        if kid is None:
            return self.keys[0] if len(self.keys) == 1 else None
        return self.by_kid.get(kid)


class StaticKeys:
    """A fixed key set: the embedded issuer verifying its own tokens."""

    def __init__(self, keys: Iterable[Key]) -> None:
        self._index = _KeyIndex(keys)

    async def key_for(self, kid: str | None) -> Key | None:
        return self._index.find(kid)


def parse_jwks(document: object) -> list[Key]:
    """Signing keys of a JWK Set (RFC 7517 §5); keys we cannot use (unknown kty, `enc`) are skipped."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise ValueError("a JWK Set is an object with a 'keys' array")
    keys: list[Key] = []
    for entry in document["keys"]:
        if not isinstance(entry, Mapping) or entry.get("use", "sig") != "sig":
            continue
        try:
            keys.append(jwk.import_key(dict(entry)))
        except (JoseError, ValueError, TypeError) as exc:
            log.warning("jwks.key_skipped", kid=entry.get("kid"), kty=entry.get("kty"), reason=str(exc))
    return keys


class RemoteJwks:
    """Public keys of an external OpenID provider, from its `jwks_uri` (DMPGW_OIDC_JWKS_URL)."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 5.0,
        min_refetch_interval: float = 30.0,
        max_age: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        self._timeout = timeout
        self._min_refetch_interval = min_refetch_interval
        self._max_age = max_age
        self._clock = clock
        self._transport = transport
        self._index = _KeyIndex()
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._last_fetch_failed = False
        self._lock = asyncio.Lock()
        #: Number of fetches attempted: lets tests and metrics see refetches.
        self.fetches = 0

    async def key_for(self, kid: str | None) -> Key | None:
        key = self._index.find(kid)
        if key is not None and not self._stale():
            return key
        async with self._lock:
            key = self._index.find(kid)  # another request may have refreshed while we waited
            if key is not None and not self._stale():
                return key
            if self._may_fetch():
                await self._refresh()
            key = self._index.find(kid)
            if key is None and self._last_fetch_failed:
                raise Unauthorized("the token's signing keys could not be fetched; try again later")
            return key  # may be stale: better than refusing everyone while the provider is down

    def _stale(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at >= self._max_age

    def _may_fetch(self) -> bool:
        return self._attempted_at is None or self._clock() - self._attempted_at >= self._min_refetch_interval

    async def _refresh(self) -> None:
        self._attempted_at = self._clock()
        self.fetches += 1
        try:
            keys = parse_jwks(await self._download())
        except (httpx.HTTPError, TimeoutError, ValueError) as exc:
            self._last_fetch_failed = True
            log.warning("jwks.fetch_failed", url=self.url, error=type(exc).__name__, detail=str(exc))
            return
        self._index = _KeyIndex(keys)
        self._fetched_at = self._clock()
        self._last_fetch_failed = False
        log.info("jwks.fetched", url=self.url, kids=sorted(self._index.by_kid))

    async def _download(self) -> Any:
        async with asyncio.timeout(self._timeout):  # httpx's timeout is per phase; this bounds the whole fetch
            async with httpx.AsyncClient(timeout=self._timeout, transport=self._transport) as client:
                response = await client.get(self.url, headers={"Accept": "application/json"})
                response.raise_for_status()
                return response.json()


__all__ = ["KeySource", "StaticKeys", "RemoteJwks", "parse_jwks"]
