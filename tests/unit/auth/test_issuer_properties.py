"""Property: whatever the issuer signs, the verifier reads back as the same Principal."""

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dmp_gateway.auth.clients import ClientConfig
from dmp_gateway.auth.principal import Principal

SOME_HASH = "scrypt$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
FIXTURES_OK = settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)

ids = st.from_regex(r"[A-Za-z0-9\-.]{1,64}", fullmatch=True)
resource_types = st.sampled_from(["Practitioner", "PractitionerRole", "Organization", "Device"])
references = st.builds(lambda t, i: f"{t}/{i}", resource_types, ids)
scopes = st.lists(st.from_regex(r"[A-Z][A-Z_]{0,39}", fullmatch=True), max_size=12)
subjects = st.text(min_size=1, max_size=80)


@FIXTURES_OK
@given(workspace=ids, as_reference=st.booleans(), identities=st.lists(references, max_size=5), granted=scopes,
       subject=subjects)
def test_user_token_round_trip(issuer, verifier, workspace, as_reference, identities, granted, subject):
    token = issuer.user_token(
        workspace_id=f"Organization/{workspace}" if as_reference else workspace,
        identities=identities,
        scopes=granted,
        subject=subject,
    )
    principal = asyncio.run(verifier.verify(token))
    assert principal == Principal(
        subject=subject,
        kind="user",
        workspace_id=workspace,
        identities=tuple(dict.fromkeys(identities)),
        requesters=(f"Organization/{workspace}",),
        scopes=frozenset(granted),
    )
    assert all(principal.may_send_as(reference) for reference in identities)
    assert principal.may_request_as(workspace)


@FIXTURES_OK
@given(client_id=ids, workspace=ids, organization=st.none() | ids, granted=scopes)
def test_application_token_round_trip(issuer, verifier, client_id, workspace, organization, granted):
    client = ClientConfig(client_id=client_id, secret_hash=SOME_HASH, workspace_id=workspace, scopes=tuple(granted),
                          organization=organization)
    token, expires_in = issuer.application_token(client)
    assert expires_in == issuer.ttl
    principal = asyncio.run(verifier.verify(token))
    assert principal == Principal(
        subject=client_id,
        kind="application",
        workspace_id=workspace,
        identities=(f"Organization/{workspace}",),
        requesters=(f"Organization/{organization or workspace}",),
        scopes=frozenset(granted),
    )
