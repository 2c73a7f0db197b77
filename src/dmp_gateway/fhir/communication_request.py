"""CommunicationRequest checks that need the caller and the stored resources (seed-flow.md §5).

The sender must be one the token may act as and the requester its workspace (or application)
Organization (403); the recipient must be the workspace's DMP channel Device, and the payload's
DocumentReference must be about the same Patient (422).
"""

from __future__ import annotations

from collections.abc import Mapping

from dmp_gateway.auth.errors import Forbidden
from dmp_gateway.fhir.codes import ACTIVE_DEVICES_EXTENSION
from dmp_gateway.fhir.outcomes import Issue
from dmp_gateway.fhir.references import parse_reference
from dmp_gateway.fhir.security import Caller
from dmp_gateway.store.resources import StoredResource


def check_caller_may_send(cr: dict, caller: Caller) -> None:
    sender = (cr.get("sender") or {}).get("reference")
    if sender and not caller.principal.may_send_as(sender):
        raise Forbidden(f"CommunicationRequest.sender {sender} is not one of the identities of this token "
                        f"({', '.join(caller.principal.identities) or 'none'})")
    agent = ((cr.get("requester") or {}).get("agent") or {}).get("reference")
    if agent and not caller.principal.may_request_as(agent):
        raise Forbidden(f"CommunicationRequest.requester.agent {agent} is not this token's workspace "
                        f"Organization ({', '.join(caller.principal.requesters)})")


def check_dmp_routing(cr: dict, caller: Caller,
                      referenced: Mapping[tuple[str, str], StoredResource]) -> list[Issue]:
    """The recipient is this workspace's DMP Device; each document is about the request's subject.

    `referenced`: the resources the request references, as its reference check read them (a missing
    one is reported there)."""
    issues = []
    devices = [(f"CommunicationRequest.recipient[{i}]", r.get("reference")) for i, r in enumerate(cr.get("recipient") or [])]
    devices += [(f"CommunicationRequest.extension[{i}].valueReference", (e.get("valueReference") or {}).get("reference"))
                for i, e in enumerate(cr.get("extension") or []) if e.get("url") == ACTIVE_DEVICES_EXTENSION]
    for path, raw in devices:
        ref = parse_reference(raw)
        if ref and ref.res_type == "Device" and ref.id != caller.workspace.dmp_device_id:
            issues.append(Issue("value", f"{path} must be this workspace's DMP Device "
                                         f"({caller.workspace.dmp_device}), not {ref}", path))
    subject = parse_reference((cr.get("subject") or {}).get("reference"))
    for i, payload in enumerate(cr.get("payload") or []):
        ref = parse_reference((payload.get("contentReference") or {}).get("reference"))
        if not (ref and subject and ref.res_type == "DocumentReference"):
            continue
        stored = referenced.get((ref.res_type, ref.id))
        if stored is None:
            continue  # reported by the reference check
        docref = stored.as_dict()
        doc_subject = parse_reference((docref.get("subject") or {}).get("reference"))
        if doc_subject and (doc_subject.res_type, doc_subject.id) != (subject.res_type, subject.id):
            path = f"CommunicationRequest.payload[{i}].contentReference"
            issues.append(Issue("value", f"{path}: {ref} is about {doc_subject}, not the request's subject "
                                         f"{subject}", path))
    return issues
