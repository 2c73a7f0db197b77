"""Who is calling, and what they may send: the claims of a verified token as a value (stdlib only).

seed-flow §2.2 and §5.2: a **user** token carries `http://lifen.fr/userInfo.identities` (the references the
user may put in `CommunicationRequest.sender`) and `http://lifen.fr/userInfo.currentWorkspaceId` (the only
allowed `requester.agent`). An **application** token (client credentials) sends as the Organization of its
workspace and requests as the application's own Organization.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from dmp_gateway.auth.errors import Unauthorized

#: [seed] the user's current workspace: an Organization id, "<id>" or "Organization/<id>".
WORKSPACE_CLAIM = "http://lifen.fr/userInfo.currentWorkspaceId"
#: [seed] the references the user may send as, e.g. ["Practitioner/12"].
IDENTITIES_CLAIM = "http://lifen.fr/userInfo.identities"
#: [inferred] the Organization references an application may put in `requester.agent`.
REQUESTERS_CLAIM = "http://dmp-gateway/requesters"
#: Auth0 (which Lifen's login domain runs on) marks client-credentials tokens with `gty`.
GRANT_TYPE_CLAIM = "gty"
CLIENT_CREDENTIALS = "client-credentials"


def reference_key(reference: str) -> str | None:
    """`Type/id` of a literal FHIR reference, relative or absolute, with any `_history` part dropped.

    FHIR STU3 references.html#literal: "Practitioner/1" and "https://host/fhir/v2/Practitioner/1" name
    the same resource. Returns None when the text is not a reference (a bare id, an empty string).
    """
    path = urlsplit(reference).path if "://" in reference else reference
    path = path.split("/_history/", 1)[0].strip("/")
    parts = path.split("/")
    if len(parts) < 2 or not parts[-1] or not parts[-2][:1].isupper():
        return None
    return f"{parts[-2]}/{parts[-1]}"


def organization_reference(value: str) -> str | None:
    """"Organization/<id>" for "<id>", "Organization/<id>" or an absolute URL ending in it; None otherwise."""
    value = value.strip()
    if not value:
        return None
    if "/" not in value:
        return f"Organization/{value}"
    key = reference_key(value)
    return key if key is not None and key.startswith("Organization/") else None


@dataclass(frozen=True)
class Principal:
    """The caller behind a verified bearer token."""

    #: `sub` claim: the user id, or the client_id of an application.
    subject: str
    #: "user" (seed's case, ID token claims) or "application" (client credentials).
    kind: Literal["user", "application"]
    #: Bare Organization id of the workspace the caller acts in.
    workspace_id: str
    #: References the caller may send as (`CommunicationRequest.sender`), normalized to "Type/id".
    identities: tuple[str, ...]
    #: References allowed in `CommunicationRequest.requester.agent`, as "Organization/<id>".
    requesters: tuple[str, ...]
    #: Granted scopes (seed-flow §2.1), e.g. {"PATIENT_CREATE", "BINARY_CREATE"}.
    scopes: frozenset[str]

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def may_send_as(self, reference: str) -> bool:
        """seed-flow §5.2: `sender` must be one of the token's identities (relative or absolute form)."""
        key = reference_key(reference)
        return key is not None and key in self.identities

    def may_request_as(self, reference: str) -> bool:
        """seed-flow §5.2: `requester.agent` must be the workspace (user) or the application's Organization."""
        key = organization_reference(reference)
        return key is not None and key in self.requesters


def principal_from_claims(
    claims: Mapping[str, Any],
    *,
    workspace_fallback: str | None = None,
    requesters_fallback: Iterable[str] = (),
) -> Principal:
    """Map verified claims to a Principal; raises Unauthorized naming the claim that is unusable.

    The fallbacks apply to application tokens that lack our claims (an external issuer's client
    credentials token): they come from the client's entry in the clients file.
    """
    kind: Literal["user", "application"] = (
        "application" if claims.get(GRANT_TYPE_CLAIM) == CLIENT_CREDENTIALS else "user"
    )
    subject = application_id(claims) if kind == "application" else claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise Unauthorized("the token has no 'sub' claim")
    raw_workspace = claims.get(WORKSPACE_CLAIM, workspace_fallback if kind == "application" else None)
    workspace_id = _workspace_id(raw_workspace)
    own_organization = f"Organization/{workspace_id}"
    if kind == "user":
        identities = _references(_strings(claims, IDENTITIES_CLAIM))
        requesters: tuple[str, ...] = (own_organization,)
    else:
        identities = (own_organization,)
        configured = _strings(claims, REQUESTERS_CLAIM) or tuple(requesters_fallback)
        requesters = _organizations(configured) or (own_organization,)
    return Principal(
        subject=subject,
        kind=kind,
        workspace_id=workspace_id,
        identities=identities,
        requesters=requesters,
        scopes=_scopes(claims),
    )


def application_id(claims: Mapping[str, Any]) -> str | None:
    """The client_id of a client-credentials token (`client_id`, `azp`, or Auth0's `<id>@clients` sub)."""
    for name in ("client_id", "azp"):
        value = claims.get(name)
        if isinstance(value, str) and value:
            return value
    sub = claims.get("sub")
    return sub.removesuffix("@clients") if isinstance(sub, str) else None


def _workspace_id(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    reference = organization_reference(value) if isinstance(value, str) else None
    if reference is None:
        raise Unauthorized(f"claim '{WORKSPACE_CLAIM}' must be an Organization id or 'Organization/<id>'")
    return reference.removeprefix("Organization/")


def _strings(claims: Mapping[str, Any], name: str) -> tuple[str, ...]:
    """A claim holding one string or an array of strings; absent means empty."""
    value = claims.get(name)
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise Unauthorized(f"claim '{name}' must be a string or an array of strings")


def _references(values: Iterable[str]) -> tuple[str, ...]:
    keys = (reference_key(value) for value in values)
    return tuple(dict.fromkeys(key for key in keys if key is not None))


def _organizations(values: Iterable[str]) -> tuple[str, ...]:
    keys = (organization_reference(value) for value in values)
    return tuple(dict.fromkeys(key for key in keys if key is not None))


def _scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    """RFC 8693 §4.2 `scope` (space-separated string) and Auth0 RBAC `permissions` (array), merged."""
    scope = claims.get("scope")
    if isinstance(scope, list):
        names = list(_strings(claims, "scope"))
    elif scope is None or isinstance(scope, str):
        names = (scope or "").split()
    else:
        raise Unauthorized("claim 'scope' must be a space-separated string")
    names.extend(_strings(claims, "permissions"))
    return frozenset(names)


__all__ = [
    "Principal",
    "principal_from_claims",
    "application_id",
    "reference_key",
    "organization_reference",
    "WORKSPACE_CLAIM",
    "IDENTITIES_CLAIM",
    "REQUESTERS_CLAIM",
    "GRANT_TYPE_CLAIM",
    "CLIENT_CREDENTIALS",
]
