"""Fixtures for auth unit tests: in-memory keys, a fake clock, an issuer and a verifier that share them."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from joserfc import jwk, jwt

from dmp_gateway.auth.issuer import TokenIssuer
from dmp_gateway.auth.keys import SigningKey, import_signing_key
from dmp_gateway.auth.verifier import TokenVerifier

ISSUER = "http://issuer.test"
AUDIENCE = "https://dmp-gateway.local/"
NOW = 1_700_000_000


class FakeClock:
    """A settable clock: tests move time instead of sleeping."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def new_key(algorithm: Literal["ES256", "RS256"] = "ES256") -> SigningKey:
    raw = jwk.generate_key("EC", "P-256") if algorithm == "ES256" else jwk.generate_key("RSA", 2048)
    return import_signing_key(raw.as_pem(private=True), algorithm)


def sign(key: SigningKey, claims: dict[str, Any], **header: Any) -> str:
    """A token with exactly these claims (no defaults), for tests of what the verifier refuses."""
    return jwt.encode({"alg": key.alg, "kid": key.kid, **header}, claims, key, algorithms=[str(header.get("alg", key.alg))])


def valid_claims(**overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "iat": NOW,
        "exp": NOW + 600,
        "scope": "PATIENT_CREATE",
        "http://lifen.fr/userInfo.currentWorkspaceId": "42",
        "http://lifen.fr/userInfo.identities": ["Practitioner/12"],
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


@pytest.fixture(scope="session")
def es_key() -> SigningKey:
    return new_key("ES256")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def issuer(es_key: SigningKey, clock: FakeClock) -> TokenIssuer:
    return TokenIssuer(es_key, ISSUER, AUDIENCE, 3600, clock=clock)


@pytest.fixture
def verifier(es_key: SigningKey, clock: FakeClock) -> TokenVerifier:
    return TokenVerifier.from_keys([es_key], issuer=ISSUER, audience=AUDIENCE, leeway=0, clock=clock)


@pytest.fixture(name="sign")
def sign_fixture():
    """`sign(key, claims, **header)` (test modules cannot import conftest under --import-mode=importlib)."""
    return sign


@pytest.fixture(name="claims")
def claims_fixture():
    """`claims(**overrides)`: a valid user token's claims at NOW; an override of None removes the claim."""
    return valid_claims


@pytest.fixture(name="new_key")
def new_key_fixture():
    return new_key
