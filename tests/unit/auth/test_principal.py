"""Claims -> Principal (seed-flow §2.2, §5.2): scopes, workspace, identities, requesters."""

import pytest

from dmp_gateway.auth.errors import Unauthorized
from dmp_gateway.auth.principal import (
    IDENTITIES_CLAIM,
    REQUESTERS_CLAIM,
    WORKSPACE_CLAIM,
    principal_from_claims,
    reference_key,
)

USER = {"sub": "u1", WORKSPACE_CLAIM: "42", IDENTITIES_CLAIM: ["Practitioner/12"], "scope": "A B"}
APP = {"sub": "ehr", "client_id": "ehr", "gty": "client-credentials", WORKSPACE_CLAIM: "42", "scope": "A"}


def user(**changes):
    return principal_from_claims({**USER, **changes})


@pytest.mark.parametrize(
    "changes,expected",
    [
        ({"scope": "A B"}, {"A", "B"}),
        ({"scope": "  A\tB  "}, {"A", "B"}),
        ({"scope": None, "permissions": ["C", "D"]}, {"C", "D"}),
        ({"scope": "A", "permissions": ["C"]}, {"A", "C"}),
        ({"scope": ["A", "B"]}, {"A", "B"}),
        ({"scope": ""}, set()),
    ],
)
def test_scopes_come_from_scope_string_and_permissions_array(changes, expected):
    claims = {k: v for k, v in {**USER, **changes}.items() if v is not None}
    assert principal_from_claims(claims).scopes == frozenset(expected)


@pytest.mark.parametrize("claim,value", [("scope", 42), ("scope", {"A": 1}), ("permissions", [1]), ("permissions", 3)])
def test_scope_claims_of_the_wrong_type_are_refused_by_name(claim, value):
    with pytest.raises(Unauthorized, match=claim):
        principal_from_claims({**USER, claim: value})


@pytest.mark.parametrize("value", ["42", "Organization/42", 42, "https://api.example/fhir/v2/Organization/42"])
def test_workspace_accepts_bare_id_and_organization_reference(value):
    principal = user(**{WORKSPACE_CLAIM: value})
    assert principal.workspace_id == "42"
    assert principal.requesters == ("Organization/42",)


@pytest.mark.parametrize("value", [None, "", "Practitioner/42", ["42"], True])
def test_user_without_a_usable_workspace_is_unauthorized(value):
    claims = {**USER, WORKSPACE_CLAIM: value}
    with pytest.raises(Unauthorized, match="currentWorkspaceId"):
        principal_from_claims(claims)


def test_user_identities_are_normalized():
    principal = user(**{IDENTITIES_CLAIM: ["Practitioner/12", "https://x.example/fhir/Practitioner/13", "bare"]})
    assert principal.kind == "user"
    assert principal.identities == ("Practitioner/12", "Practitioner/13")


@pytest.mark.parametrize(
    "sender,allowed",
    [
        ("Practitioner/12", True),
        ("https://gw.example/fhir/v2/Practitioner/13", True),
        ("Practitioner/12/_history/3", True),
        ("Practitioner/14", False),
        ("Organization/42", False),
        ("12", False),
    ],
)
def test_user_may_send_as_its_identities_only(sender, allowed):
    principal = user(**{IDENTITIES_CLAIM: ["Practitioner/12", "https://x.example/fhir/Practitioner/13"]})
    assert principal.may_send_as(sender) is allowed


def test_a_single_identity_string_is_accepted():
    assert user(**{IDENTITIES_CLAIM: "Practitioner/9"}).identities == ("Practitioner/9",)


def test_user_without_identities_may_send_as_nobody():
    claims = {k: v for k, v in USER.items() if k != IDENTITIES_CLAIM}
    assert not principal_from_claims(claims).may_send_as("Practitioner/12")


@pytest.mark.parametrize(
    "requester,allowed",
    [
        ("42", True),
        ("Organization/42", True),
        ("https://gw.example/fhir/v2/Organization/42", True),
        ("Organization/43", False),
        ("Practitioner/42", False),
        ("", False),
    ],
)
def test_user_requests_as_the_workspace_only(requester, allowed):
    assert user().may_request_as(requester) is allowed


def test_has_scope():
    assert user().has_scope("A") and not user().has_scope("PATIENT_CREATE")


def test_application_sends_as_its_workspace_and_requests_as_its_organization():
    principal = principal_from_claims({**APP, REQUESTERS_CLAIM: ["Organization/77"]})
    assert principal.kind == "application"
    assert principal.subject == "ehr"
    assert principal.identities == ("Organization/42",)
    assert principal.may_send_as("Organization/42")
    assert principal.may_request_as("77") and not principal.may_request_as("42")


def test_application_requester_defaults_to_its_workspace():
    assert principal_from_claims(APP).requesters == ("Organization/42",)


def test_application_claims_can_come_from_its_client_entry():
    external = {"sub": "ehr@clients", "gty": "client-credentials", "scope": "A"}  # Auth0 client-credentials shape
    principal = principal_from_claims(external, workspace_fallback="7", requesters_fallback=["Organization/8"])
    assert (principal.subject, principal.workspace_id, principal.requesters) == ("ehr", "7", ("Organization/8",))


def test_user_token_never_uses_the_application_fallback():
    claims = {k: v for k, v in USER.items() if k != WORKSPACE_CLAIM}
    with pytest.raises(Unauthorized):
        principal_from_claims(claims, workspace_fallback="7")


def test_missing_subject_is_unauthorized():
    with pytest.raises(Unauthorized, match="sub"):
        principal_from_claims({k: v for k, v in USER.items() if k != "sub"})


@pytest.mark.parametrize(
    "reference,expected",
    [
        ("Practitioner/1", "Practitioner/1"),
        ("https://h.example/fhir/v2/Practitioner/1", "Practitioner/1"),
        ("https://h.example/fhir/v2/Practitioner/1/_history/2", "Practitioner/1"),
        ("https://h.example/fhir/v2/Practitioner/1?x=y", "Practitioner/1"),
        ("1", None),
        ("", None),
        ("practitioner/1", None),
        ("Practitioner/", None),
    ],
)
def test_reference_key(reference, expected):
    assert reference_key(reference) == expected
