"""ITI-57 Update Document Set: logical delete (TD3.3c) or archive (TD3.3d) of a DMP document.

Request: dmp-interfaces.md §6.1 (DRIMBOX DeleteRequest): `lcm:SubmitObjectsRequest` holding a new
SubmissionSet and one `UpdateAvailabilityStatus` association from it to the document's entryUUID,
with `OriginalStatus` / `NewStatus` slots. Plain SOAP (no MTOM, no XAdES). Response: RegistryResponse.
"""

from __future__ import annotations

from lxml import etree

from dmp_gateway.dmp import namespaces as ns
from dmp_gateway.dmp.ebrim import IdSequence, association
from dmp_gateway.dmp.metadata import AuthorSlots, FeedContext, build_submission_set
from dmp_gateway.dmp.types import NewStatus
from dmp_gateway.ins import Ins

SUBMISSION_SET_ID = "SubmissionSet01"


def build_update_status(
    *,
    ins: Ins,
    entry_uuid: str,
    new_status: NewStatus,
    submission_set_unique_id: str,
    author: AuthorSlots,
    context: FeedContext,
    original_status: str = ns.STATUS_APPROVED,
) -> etree._Element:
    """The SubmitObjectsRequest that moves one entry from `original_status` to `new_status`."""
    request = etree.Element(ns.qname(ns.LCM, "SubmitObjectsRequest"), nsmap={"lcm": ns.LCM, "rim": ns.RIM})
    objects = etree.SubElement(request, ns.qname(ns.RIM, "RegistryObjectList"))
    ids = IdSequence()
    build_submission_set(objects, ids, object_id=SUBMISSION_SET_ID, author=author, ins=ins,
                         unique_id=submission_set_unique_id, context=context)
    association(objects, ids, ns.ASSOC_UPDATE_AVAILABILITY, SUBMISSION_SET_ID, entry_uuid,
                {"OriginalStatus": original_status, "NewStatus": new_status.value})
    return request


__all__ = ["build_update_status"]
