"""TokenVerifier against an external provider's JWKS over real HTTP: rotation, withdrawal, outages."""

from __future__ import annotations

import pytest
from joserfc import jwk

from dmp_gateway.auth.errors import Unauthorized
from dmp_gateway.auth.issuer import TokenIssuer
from dmp_gateway.auth.jwks import RemoteJwks
from dmp_gateway.auth.keys import SigningKey, import_signing_key
from dmp_gateway.auth.verifier import TokenVerifier

ISSUER, AUDIENCE = "https://idp.example", "https://dmp-gateway.local/"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def new_issuer(algorithm: str = "ES256") -> TokenIssuer:
    raw = jwk.generate_key("RSA", 2048) if algorithm == "RS256" else jwk.generate_key("EC", "P-256")
    key: SigningKey = import_signing_key(raw.as_pem(private=True), algorithm)  # type: ignore[arg-type]
    return TokenIssuer(key, ISSUER, AUDIENCE, 3600)


def token_of(issuer: TokenIssuer, subject: str = "alice") -> str:
    return issuer.user_token(workspace_id="42", identities=["Practitioner/1"], scopes=["PATIENT_CREATE"], subject=subject)


def remote_verifier(url: str, clock: Clock, **options) -> tuple[TokenVerifier, RemoteJwks]:
    keys = RemoteJwks(url, clock=clock, min_refetch_interval=30, max_age=3600, **options)
    # cache_size=0: every call goes to the key source, which is what these tests watch
    return TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE, cache_size=0), keys


async def test_keys_are_fetched_once_and_reused(jwks_server):
    issuer = new_issuer()
    jwks_server.publish(issuer.key)
    verifier, keys = remote_verifier(jwks_server.url, Clock())
    for subject in ("alice", "bob", "carol"):
        assert (await verifier.verify(token_of(issuer, subject))).subject == subject
    assert keys.fetches == 1 and jwks_server.hits == 1


async def test_rotation_unknown_kid_triggers_one_refetch(jwks_server):
    old, new = new_issuer("RS256"), new_issuer("ES256")
    jwks_server.publish(old.key)
    clock = Clock()
    verifier, keys = remote_verifier(jwks_server.url, clock)
    await verifier.verify(token_of(old))
    clock.now += 31  # past min_refetch_interval
    jwks_server.publish(old.key, new.key)  # the provider rotates
    assert (await verifier.verify(token_of(new))).subject == "alice"
    assert await verifier.verify(token_of(old))  # old tokens stay valid while the key is published
    assert jwks_server.hits == 2


async def test_made_up_kids_do_not_hammer_the_provider(jwks_server):
    known, stranger = new_issuer(), new_issuer()
    jwks_server.publish(known.key)
    verifier, _ = remote_verifier(jwks_server.url, Clock())
    await verifier.verify(token_of(known))
    for _ in range(5):
        with pytest.raises(Unauthorized, match="kid"):
            await verifier.verify(token_of(stranger))
    assert jwks_server.hits == 1  # within min_refetch_interval of the first fetch


async def test_withdrawn_key_stops_verifying_after_max_age(jwks_server):
    withdrawn, kept = new_issuer(), new_issuer()
    jwks_server.publish(withdrawn.key, kept.key)
    clock = Clock()
    verifier, _ = remote_verifier(jwks_server.url, clock)
    await verifier.verify(token_of(withdrawn))
    jwks_server.publish(kept.key)
    clock.now += 3600
    with pytest.raises(Unauthorized, match="kid"):
        await verifier.verify(token_of(withdrawn))
    assert await verifier.verify(token_of(kept))


async def test_provider_error_is_unauthorized_not_a_crash(jwks_server):
    jwks_server.status = 503
    verifier, _ = remote_verifier(jwks_server.url, Clock())
    with pytest.raises(Unauthorized, match="could not be fetched"):
        await verifier.verify(token_of(new_issuer()))


async def test_stale_keys_are_kept_while_the_provider_is_down(jwks_server):
    issuer = new_issuer()
    jwks_server.publish(issuer.key)
    clock = Clock()
    verifier, keys = remote_verifier(jwks_server.url, clock)
    await verifier.verify(token_of(issuer))
    jwks_server.status = 500
    clock.now += 4000  # keys are stale: a refresh is attempted and fails
    assert (await verifier.verify(token_of(issuer, "bob"))).subject == "bob"
    assert keys.fetches == 2


async def test_invalid_jwks_document_is_unauthorized(jwks_server):
    jwks_server.document = {"not": "a key set"}
    verifier, _ = remote_verifier(jwks_server.url, Clock())
    with pytest.raises(Unauthorized, match="could not be fetched"):
        await verifier.verify(token_of(new_issuer()))


async def test_unsupported_keys_in_the_set_are_skipped(jwks_server):
    issuer = new_issuer()
    jwks_server.document = {"keys": [{"kty": "weird", "kid": "x"}, {**issuer.key.as_dict(private=False)}]}
    verifier, _ = remote_verifier(jwks_server.url, Clock())
    assert await verifier.verify(token_of(issuer))


async def test_unreachable_provider_is_unauthorized(closed_port_url):
    verifier, _ = remote_verifier(closed_port_url, Clock())
    with pytest.raises(Unauthorized, match="could not be fetched"):
        await verifier.verify(token_of(new_issuer()))


async def test_hanging_provider_times_out_as_unauthorized(jwks_server):
    jwks_server.hang = True
    verifier, _ = remote_verifier(jwks_server.url, Clock(), timeout=0.3)
    with pytest.raises(Unauthorized, match="could not be fetched"):
        await verifier.verify(token_of(new_issuer()))


async def test_from_jwks_url_builds_a_working_verifier(jwks_server):
    issuer = new_issuer("ES256")
    jwks_server.publish(issuer.key)
    verifier = TokenVerifier.from_jwks_url(jwks_server.url, issuer=ISSUER, audience=AUDIENCE, timeout=5)
    assert (await verifier.verify(token_of(issuer))).workspace_id == "42"
