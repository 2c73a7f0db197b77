"""ITI-18 Registry Stored Query (TD3.1): GetDocuments and FindDocuments over what the simulator registered.

dmp-interfaces.md §6; IHE ITI TF-2a §3.18.4.1.2.3.7 (FindDocuments, GetDocuments), TF-3 §4.2.3 (LeafClass
ExtrinsicObjects carry the registry-assigned entryUUID as id, the status, and repositoryUniqueId).
Results are limited to the patient of the VIHF, as the DMP only shows a patient's own record.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING

from cryptography import x509
from lxml import etree

from dmp_gateway.dmp.namespaces import QUERY, QUERY_FIND_DOCUMENTS, QUERY_GET_DOCUMENTS, RIM, qname
from dmp_gateway.dmp_simulator import rejections as codes
from dmp_gateway.dmp_simulator.registry import StoredDocument
from dmp_gateway.dmp_simulator.rejections import Rejected, SoapFault
from dmp_gateway.dmp_simulator.soap import SoapRequest
from dmp_gateway.dmp_simulator.vihf import check_vihf

if TYPE_CHECKING:
    from dmp_gateway.dmp_simulator.simulator import Simulator

_QUOTED = re.compile(r"'((?:[^']|'')*)'")


def query_values(texts: list[str]) -> list[str]:
    """`('a','b')` / `'a'` / `a` values of a stored-query slot (IHE ITI TF-2a §3.18.4.1.2.3.5)."""
    out: list[str] = []
    for text in texts:
        found = _QUOTED.findall(text)
        out.extend(v.replace("''", "'") for v in found) if found else out.append(text.strip("() "))
    return [v for v in out if v]


async def handle_iti18(sim: "Simulator", request: SoapRequest, tls_certificate: x509.Certificate | None) -> list[etree._Element]:
    """The objects answering an AdhocQueryRequest (raises Rejected for a query it cannot run)."""
    body = request.body
    if body.tag != qname(QUERY, "AdhocQueryRequest"):
        raise SoapFault("Sender", f"the body of ITI-18 must be query:AdhocQueryRequest, not {body.tag}")
    identity = check_vihf(request.header, trust=sim.trust, now=sim.now(), policy=sim.config.vihf, tls_certificate=tls_certificate)
    option = body.find(qname(QUERY, "ResponseOption"))
    return_type = option.get("returnType", "ObjectRef") if option is not None else "ObjectRef"
    query = body.find(qname(RIM, "AdhocQuery"))
    if query is None:
        raise Rejected(codes.UNKNOWN_STORED_QUERY, "AdhocQueryRequest has no rim:AdhocQuery")
    params: dict[str, list[str]] = {}
    for slot in query.findall(qname(RIM, "Slot")):
        params[slot.get("name", "")] = query_values([(v.text or "") for v in slot.iter(qname(RIM, "Value"))])
    registry = await sim.ready_registry()
    query_id = query.get("id")
    if query_id == QUERY_GET_DOCUMENTS:
        unique_ids = params.get("$XDSDocumentEntryUniqueId")
        entry_uuids = params.get("$XDSDocumentEntryEntryUUID")
        if bool(unique_ids) == bool(entry_uuids):
            raise Rejected(codes.STORED_QUERY_PARAM, "GetDocuments needs exactly one of $XDSDocumentEntryUniqueId, $XDSDocumentEntryEntryUUID")
        found = await registry.documents(
            patient=identity.patient_ins, unique_ids=unique_ids,
            entry_uuids=[_uuid(v) for v in entry_uuids] if entry_uuids else None,
        )
    elif query_id == QUERY_FIND_DOCUMENTS:
        patient = params.get("$XDSDocumentEntryPatientId")
        statuses = params.get("$XDSDocumentEntryStatus")
        if not patient or not statuses:
            raise Rejected(codes.STORED_QUERY_PARAM, "FindDocuments needs $XDSDocumentEntryPatientId and $XDSDocumentEntryStatus")
        if patient[0] != identity.patient_cx:
            return []
        found = await registry.documents(patient=identity.patient_ins, statuses=statuses)
    else:
        raise Rejected(codes.UNKNOWN_STORED_QUERY, f"stored query {query_id} is not supported (GetDocuments, FindDocuments)")
    if return_type == "LeafClass":
        return [leaf_class(doc, sim.config.repository_unique_id) for doc in found]
    return [etree.Element(qname(RIM, "ObjectRef"), id=f"urn:uuid:{doc.entry_uuid}") for doc in found]


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value.removeprefix("urn:uuid:"))
    except ValueError as exc:
        raise Rejected(codes.STORED_QUERY_PARAM, f"{value!r} is not a urn:uuid entryUUID") from exc


def leaf_class(doc: StoredDocument, repository_unique_id: str) -> etree._Element:
    """The submitted ExtrinsicObject, as the registry holds it: id = entryUUID, status, repositoryUniqueId."""
    element = etree.fromstring(doc.metadata)
    symbolic = element.get("id", "")
    entry = f"urn:uuid:{doc.entry_uuid}"
    element.set("id", entry)
    element.set("lid", entry)
    element.set("status", doc.status)
    for child in element.iter():
        for attribute in ("classifiedObject", "registryObject"):
            if child.get(attribute) == symbolic:
                child.set(attribute, entry)
    if not any(s.get("name") == "repositoryUniqueId" for s in element.findall(qname(RIM, "Slot"))):
        slot = etree.Element(qname(RIM, "Slot"), name="repositoryUniqueId")
        etree.SubElement(etree.SubElement(slot, qname(RIM, "ValueList")), qname(RIM, "Value")).text = repository_unique_id
        element.insert(0, slot)
    return element
