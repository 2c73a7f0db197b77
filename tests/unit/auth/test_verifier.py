"""TokenVerifier: what it accepts, what it refuses and why, and its token cache."""

import base64
import hashlib
import hmac
import json

import pytest

from dmp_gateway.auth.clients import ClientConfig, ClientRegistry
from dmp_gateway.auth.errors import Unauthorized
from dmp_gateway.auth.jwks import StaticKeys
from dmp_gateway.auth.verifier import MAX_TOKEN_LENGTH, TokenVerifier

SOME_HASH = "scrypt$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"


class CountingKeys(StaticKeys):
    """The embedded key source, counting lookups: a lookup means a full verification."""

    def __init__(self, keys):
        super().__init__(keys)
        self.lookups = 0

    async def key_for(self, kid):
        self.lookups += 1
        return await super().key_for(kid)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def refused(verifier, token) -> str:
    with pytest.raises(Unauthorized) as caught:
        await verifier.verify(token)
    assert caught.value.status == 401
    assert 'error="invalid_token"' in caught.value.www_authenticate
    assert not token or token not in caught.value.message
    return caught.value.message


async def test_issued_user_token_verifies(issuer, verifier):
    token = issuer.user_token(workspace_id="42", identities=["Practitioner/12"], scopes=["PATIENT_CREATE"])
    principal = await verifier.verify(token)
    assert (principal.subject, principal.kind, principal.workspace_id) == ("dev-user", "user", "42")
    assert principal.identities == ("Practitioner/12",)
    assert principal.scopes == {"PATIENT_CREATE"}


async def test_expired_token_is_refused(issuer, verifier, clock):
    token = issuer.user_token(workspace_id="42", identities=[], scopes=[], ttl=60)
    clock.advance(60)
    assert "expired" in await refused(verifier, token)


async def test_leeway_tolerates_small_clock_skew(es_key, issuer, clock):
    lenient = TokenVerifier.from_keys([es_key], issuer=issuer.issuer, audience=issuer.audience, leeway=30, clock=clock)
    token = issuer.user_token(workspace_id="42", identities=[], scopes=[], ttl=60)
    clock.advance(80)
    assert (await lenient.verify(token)).workspace_id == "42"


@pytest.mark.parametrize(
    "changes,reason",
    [
        ({"nbf": 1_700_000_100}, "not valid yet"),
        ({"iat": 1_700_000_100}, "issued in the future"),
        ({"iss": "http://evil.test"}, "issuer"),
        ({"iss": None}, "iss"),
        ({"aud": "https://other.api/"}, "audience"),
        ({"aud": ["https://other.api/"]}, "audience"),
        ({"aud": None}, "aud"),
        ({"exp": None}, "exp"),
        ({"exp": "tomorrow"}, "expiry"),
    ],
)
async def test_claims_that_are_refused(es_key, verifier, sign, claims, changes, reason):
    assert reason in await refused(verifier, sign(es_key, claims(**changes)))


async def test_audience_may_be_a_list_holding_ours(es_key, verifier, sign, claims):
    token = sign(es_key, claims(aud=["https://other.api/", verifier.audience]))
    assert (await verifier.verify(token)).subject == "user-1"


async def test_signature_by_another_key_with_our_kid_is_refused(es_key, verifier, sign, claims, new_key):
    impostor = new_key("ES256")
    assert "signature" in await refused(verifier, sign(impostor, claims(), kid=es_key.kid))


async def test_tampered_payload_is_refused(es_key, verifier, sign, claims):
    header, _, signature = sign(es_key, claims()).split(".")
    payload = b64(json.dumps(claims(scope="PATIENT_CREATE ADMIN")).encode())
    assert "signature" in await refused(verifier, f"{header}.{payload}.{signature}")


async def test_unknown_kid_is_refused(es_key, verifier, sign, claims):
    assert "kid" in await refused(verifier, sign(es_key, claims(), kid="not-our-key"))


async def test_token_without_kid_uses_the_only_key(es_key, verifier, claims):
    from joserfc import jwt

    token = jwt.encode({"alg": "ES256"}, claims(), es_key)
    assert (await verifier.verify(token)).subject == "user-1"


async def test_hmac_signed_with_the_public_key_is_refused(es_key, verifier, claims):
    """Algorithm confusion: HS256 keyed with our public key must not pass (RFC 8725 §2.1)."""
    header = b64(json.dumps({"alg": "HS256", "kid": es_key.kid}).encode())
    payload = b64(json.dumps(claims()).encode())
    secret = es_key.as_pem(private=False)
    mac = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    assert "algorithm" in await refused(verifier, f"{header}.{payload}.{b64(mac)}")


async def test_unsigned_token_is_refused(es_key, verifier, claims):
    header = b64(json.dumps({"alg": "none"}).encode())
    assert "algorithm" in await refused(verifier, f"{header}.{b64(json.dumps(claims()).encode())}.")


async def test_algorithm_not_matching_the_key_is_refused(es_key, verifier, claims):
    header = b64(json.dumps({"alg": "RS256", "kid": es_key.kid}).encode())
    assert "algorithm" in await refused(verifier, f"{header}.{b64(b'{}')}.{b64(b'sig')}")


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b.c", "a.b.c.d.e", "été.b.c", "x" * (MAX_TOKEN_LENGTH + 1), b64(b'{"alg":"ES256"}') + ".!!.!!"],
)
async def test_malformed_tokens_are_refused(verifier, token):
    assert "not a signed JWT" in await refused(verifier, token)


async def test_payload_that_is_not_an_object_is_refused(es_key, verifier):
    from joserfc import jws

    token = jws.serialize_compact({"alg": "ES256", "kid": es_key.kid}, b"[1,2]", es_key)
    assert "JSON object" in await refused(verifier, token)


async def test_bad_claim_values_name_the_claim(es_key, verifier, sign, claims):
    token = sign(es_key, claims(**{"http://lifen.fr/userInfo.currentWorkspaceId": None}))
    assert "currentWorkspaceId" in await refused(verifier, token)


# --- cache --------------------------------------------------------------------------------------


def counting_verifier(key, clock, **options):
    keys = CountingKeys([key])
    verifier = TokenVerifier(keys, issuer="http://issuer.test", audience="https://dmp-gateway.local/",
                             leeway=0, clock=clock, **options)
    return verifier, keys


async def test_a_token_is_verified_once_then_served_from_cache(issuer, es_key, clock):
    verifier, keys = counting_verifier(es_key, clock)
    token = issuer.user_token(workspace_id="42", identities=[], scopes=["A"])
    first = await verifier.verify(token)
    assert await verifier.verify(token) is first
    assert keys.lookups == 1


async def test_cached_token_still_expires(issuer, es_key, clock):
    verifier, _ = counting_verifier(es_key, clock)
    token = issuer.user_token(workspace_id="42", identities=[], scopes=[], ttl=120)
    await verifier.verify(token)
    clock.advance(120)
    assert "expired" in await refused(verifier, token)


async def test_cache_entries_are_reverified_after_cache_ttl(issuer, es_key, clock):
    verifier, keys = counting_verifier(es_key, clock, cache_ttl=300)
    token = issuer.user_token(workspace_id="42", identities=[], scopes=[])
    await verifier.verify(token)
    clock.advance(301)
    await verifier.verify(token)
    assert keys.lookups == 2


async def test_cache_is_bounded_and_evicts_the_least_recently_used(issuer, es_key, clock):
    verifier, keys = counting_verifier(es_key, clock, cache_size=2)
    a, b, c = (issuer.user_token(workspace_id="42", identities=[], scopes=[], subject=s) for s in "abc")
    for token in (a, b, a, c):  # c evicts b, the least recently used
        await verifier.verify(token)
    assert len(verifier.cache) == 2 and keys.lookups == 3
    await verifier.verify(a)
    assert keys.lookups == 3
    await verifier.verify(b)
    assert keys.lookups == 4


async def test_cache_size_zero_disables_the_cache(issuer, es_key, clock):
    verifier, keys = counting_verifier(es_key, clock, cache_size=0)
    token = issuer.user_token(workspace_id="42", identities=[], scopes=[])
    await verifier.verify(token)
    await verifier.verify(token)
    assert keys.lookups == 2 and len(verifier.cache) == 0


async def test_refused_tokens_are_not_cached(es_key, verifier, sign, claims):
    await refused(verifier, sign(es_key, claims(iss="http://evil.test")))
    assert len(verifier.cache) == 0


# --- application tokens ---------------------------------------------------------------------------


async def test_application_token_without_our_claims_uses_the_client_entry(es_key, sign, claims, clock):
    client = ClientConfig(client_id="ehr", secret_hash=SOME_HASH, workspace_id="7", organization="Organization/8")
    verifier = TokenVerifier.from_keys([es_key], issuer="http://issuer.test", audience="https://dmp-gateway.local/",
                                       clients=ClientRegistry([client]), clock=clock)
    external = claims(**{"sub": "ehr@clients", "gty": "client-credentials", "azp": "ehr",
                         "http://lifen.fr/userInfo.currentWorkspaceId": None,
                         "http://lifen.fr/userInfo.identities": None})
    principal = await verifier.verify(sign(es_key, external))
    assert (principal.kind, principal.subject, principal.workspace_id) == ("application", "ehr", "7")
    assert principal.requesters == ("Organization/8",)
    assert principal.identities == ("Organization/7",)
