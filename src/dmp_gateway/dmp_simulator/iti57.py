"""ITI-57 Update Document Set (TD3.3c/d): change a document's availabilityStatus (delete, archive).

dmp-interfaces.md §6.1, xds-metadata.md §8: a new SubmissionSet and one UpdateAvailabilityStatus
Association (OriginalStatus → NewStatus) whose target is the document's entryUUID; only the document's author
(its authorInstitution structure) may change it; deletion is logical.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from cryptography import x509
from lxml import etree

from dmp_gateway.dmp.namespaces import (
    ASSOC_UPDATE_AVAILABILITY, LCM, STATUS_APPROVED, STATUS_ARCHIVED, STATUS_DELETED, qname,
)
from dmp_gateway.dmp_simulator import rejections as codes
from dmp_gateway.dmp_simulator.metadata import read_object, read_submission
from dmp_gateway.dmp_simulator.rejections import Rejected, SoapFault
from dmp_gateway.dmp_simulator.rules import AUTHOR_SCHEMES, institution_ids
from dmp_gateway.dmp_simulator.soap import SoapRequest
from dmp_gateway.dmp_simulator.vihf import check_vihf

if TYPE_CHECKING:
    from dmp_gateway.dmp_simulator.simulator import Simulator

NEW_STATUSES = (STATUS_DELETED, STATUS_ARCHIVED, STATUS_APPROVED)


async def handle_iti57(sim: "Simulator", request: SoapRequest, tls_certificate: x509.Certificate | None) -> None:
    """Apply the status updates of one request, or raise Rejected."""
    body = request.body
    if body.tag != qname(LCM, "SubmitObjectsRequest"):
        raise SoapFault("Sender", f"the body of ITI-57 must be lcm:SubmitObjectsRequest, not {body.tag}")
    identity = check_vihf(request.header, trust=sim.trust, now=sim.now(), policy=sim.config.vihf, tls_certificate=tls_certificate)
    try:
        view = read_submission(body, AUTHOR_SCHEMES)
    except ValueError as exc:
        raise Rejected(codes.METADATA_UPDATE_ERROR, str(exc)) from exc
    if len(view.submission_sets) != 1:
        raise Rejected(codes.METADATA_UPDATE_ERROR, "an update needs exactly one new SubmissionSet")
    updates = [a for a in view.associations if a.type == ASSOC_UPDATE_AVAILABILITY]
    if not updates:
        raise Rejected(codes.METADATA_UPDATE_ERROR, f"no {ASSOC_UPDATE_AVAILABILITY} association")
    registry = await sim.ready_registry()
    for update in updates:
        original = (update.slots.get("OriginalStatus") or [""])[0]
        new = (update.slots.get("NewStatus") or [""])[0]
        if new not in NEW_STATUSES:
            raise Rejected(codes.METADATA_UPDATE_ERROR, f"NewStatus {new!r} is not one of {', '.join(NEW_STATUSES)}", update.target)
        try:
            entry_uuid = uuid.UUID(update.target.removeprefix("urn:uuid:"))
        except ValueError as exc:
            raise Rejected(codes.UNRESOLVED_REFERENCE, f"target {update.target} is not an entryUUID", update.target) from exc
        found = await registry.documents(entry_uuids=[entry_uuid])
        if not found or found[0].patient != identity.patient_ins:
            raise Rejected(codes.UNRESOLVED_REFERENCE, f"no document {update.target} in this patient's DMP", update.target)
        authors = read_object(etree.fromstring(found[0].metadata), AUTHOR_SCHEMES).authors
        if identity.structure_id not in institution_ids(authors):
            raise Rejected(codes.AUTHENTICATION_ERROR, "only the document's author (its structure) may change its status", update.target)
        if not await registry.set_status(entry_uuid, original, new):
            raise Rejected(
                codes.METADATA_UPDATE_ERROR,
                f"OriginalStatus {original} is not the document's current status {found[0].status}", update.target,
            )
