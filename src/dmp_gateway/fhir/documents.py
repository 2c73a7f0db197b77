"""The delivery's DocumentPort on stored FHIR resources: the patient's INS, and the CDA to send.

Resolves what a CommunicationRequest points at (Patient, DocumentReference, sender, requester,
Binary, the replaced document), hands it to `cda_mapping`, and turns the builder's problems into
the operator-facing reasons of the delivery. CDA building is CPU-bound (lxml, pikepdf, Ghostscript),
so it runs in a thread and the worker keeps its other jobs moving.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

from dmp_gateway.cda.errors import CdaError, InvalidCdaInputs
from dmp_gateway.cda.ids import mint_document_oid
from dmp_gateway.config import Settings
from dmp_gateway.delivery.model import BuiltDocument, EmbeddedPdf, Reason
from dmp_gateway.delivery.ports import DocumentProblem
from dmp_gateway.fhir.attempts import AttemptResources
from dmp_gateway.fhir.cda_mapping import (RequestResources, build_prepared_cda, unique_id_from_master_identifier)
from dmp_gateway.fhir.cda_mapping import patient_ins as cda_patient_ins
from dmp_gateway.fhir.codes import CDA_SET_ID_SYSTEM, CDA_VERSION_SYSTEM, XDS_UNIQUE_ID_SYSTEM
from dmp_gateway.fhir.references import parse_reference
from dmp_gateway.ins import Ins
from dmp_gateway.lru import Lru
from dmp_gateway.store.errors import ResourceNotFound
from dmp_gateway.store.resources import PostgresResourceStore, StoredResource

#: Attempts in flight per worker are far fewer; the bound only stops a slow leak from failed attempts.
_RECENT_MAX = 1024


@dataclass
class RequestDocuments:
    resources: PostgresResourceStore
    settings: Settings
    #: The request as the attempt's start read it (and the document as read here), shared with
    #: `FhirResourceEffects`, which writes the outcome from them (fhir/attempts.py).
    attempts: AttemptResources = field(default_factory=AttemptResources)

    async def _get_all(self, wanted: list[tuple[str, object, tuple[str, ...]]],
                       prefetched: dict[tuple[str, str], StoredResource] | None = None, *,
                       contents: dict[uuid.UUID, bytes] | None = None) -> list[StoredResource]:
        """Resolve several references, (label, reference, allowed types) each: from `prefetched` when it
        holds them all, else in one round trip; `contents`: filled with the content of the Binaries."""
        refs = []
        for label, ref_value, types in wanted:
            ref = _type_and_id(ref_value)
            if ref is None or ref[0] not in types:
                raise DocumentProblem(Reason.CDA_INVALID, f"{label} does not reference a {' or '.join(types)}.")
            refs.append(ref)
        if contents is not None:
            found, blobs = await self.resources.read_many_with_content(refs)
            contents.update(blobs)
        elif prefetched is not None and all(ref in prefetched for ref in refs):
            found = prefetched
        else:
            found = await self.resources.read_many(refs)
        for (label, _, _), ref in zip(wanted, refs):
            if ref not in found:
                raise DocumentProblem(Reason.CDA_INVALID, f"{label} references {ref[0]}/{ref[1]}, which no longer exists.")
        return [found[ref] for ref in refs]

    #: What `patient_ins` read, for the `build` that follows in the same attempt: the request, and the
    #: resources it references (Patient, DocumentReference, sender, requester) by (type, id).
    _recent: Lru[str, tuple[dict, dict[tuple[str, str], StoredResource]]] = field(
        default_factory=lambda: Lru(_RECENT_MAX), repr=False)

    async def _request_and_references(self, request_id: str, *,
                                      keep: bool) -> tuple[dict, dict[tuple[str, str], StoredResource]]:
        """For `patient_ins` (keep=True), which starts every attempt: the request as the attempt's start
        read it, and what it references, read now in one round trip; `build` reuses both. (A reference
        that is wrong or gone is only an error where it is used, as if read there.)"""
        cached = None if keep else self._recent.pop(request_id)
        if cached is None:
            kept = self.attempts.request(request_id)
            cr = (kept or await self.resources.read_any("CommunicationRequest", request_id)).as_dict()
            cached = (cr, await self.resources.read_many([ref for ref in map(_type_and_id, _first_references(cr))
                                                          if ref is not None]))
        if keep:
            self._recent.put(request_id, cached)
        return cached

    async def patient_ins(self, request_id: str) -> Ins:
        cr, prefetched = await self._request_and_references(request_id, keep=True)
        (patient,) = await self._get_all([("CommunicationRequest.subject", cr.get("subject"), ("Patient",))], prefetched)
        return patient_ins(patient.as_dict(), self.settings)

    async def build(self, request_id: str, unique_id: str | None) -> BuiltDocument:
        cr, prefetched = await self._request_and_references(request_id, keep=False)
        subject, payload, sender_ref, agent = _first_references(cr)
        stored_patient, stored_docref, stored_sender, stored_requester = await self._get_all([
            ("CommunicationRequest.subject", subject, ("Patient",)),
            ("CommunicationRequest.payload[0]", payload, ("DocumentReference",)),
            ("CommunicationRequest.sender", sender_ref, ("Practitioner", "Organization")),
            ("CommunicationRequest.requester.agent", agent, ("Organization",)),
        ], prefetched)
        patient = stored_patient.as_dict()
        self.attempts.keep_document(request_id, stored_docref)
        docref, sender, requester = stored_docref.as_dict(), stored_sender.as_dict(), stored_requester.as_dict()
        binary_ref = ((docref.get("content") or [{}])[0].get("attachment") or {}).get("url")
        wanted = [("DocumentReference.content[0].attachment.url", binary_ref, ("Binary",))]
        if docref.get("authenticator"):
            wanted.append(("DocumentReference.authenticator", docref["authenticator"], ("Practitioner", "Organization")))
        if docref.get("custodian"):
            wanted.append(("DocumentReference.custodian", docref["custodian"], ("Organization",)))
        contents: dict[uuid.UUID, bytes] = {}
        stored_binary, *others = await self._get_all(wanted, contents=contents)
        authenticator = others.pop(0).as_dict() if docref.get("authenticator") else None
        custodian = others.pop(0).as_dict() if docref.get("custodian") else None
        pdf = contents.get(stored_binary.blob_id, b"")  # no chunk stored: empty, as the chunk reader says
        replaced_unique_id, set_id, version = await replaced_document(self.resources, docref)
        unique_id = unique_id or unique_id_from_master_identifier(docref) or mint_document_oid(
            self.settings.document_root_oid)
        resources = RequestResources(
            patient=patient, document_reference=docref, sender=sender, requester=requester, pdf=pdf,
            unique_id=unique_id, set_id=set_id or _derived_set_id(unique_id), authenticator=authenticator,
            custodian=custodian, replaced_unique_id=replaced_unique_id, version_number=version)
        try:
            cda, preparation, head, tail = await asyncio.to_thread(build_prepared_cda, resources, self.settings)
        except InvalidCdaInputs as exc:
            raise DocumentProblem(Reason.INVALID_PATIENT_IDENTITY if exc.only_patient_identity else Reason.CDA_INVALID,
                                  exc.reason) from None
        except CdaError as exc:
            raise DocumentProblem(Reason.CDA_INVALID, f"The PDF could not be prepared: {exc}") from None
        # A Binary's content is never changed nor deleted (Binary has create and read only), so the
        # CDA can be kept as its two ends around a reference to it; a converted PDF exists nowhere
        # else and is kept whole.
        embedded = None
        if preparation.converted is None and stored_binary.blob_id is not None:
            embedded = EmbeddedPdf(str(stored_binary.blob_id), head, tail)
        return BuiltDocument(patient_ins(patient, self.settings), cda, unique_id, replaced_unique_id,
                             preparation.record(), embedded)


async def replaced_document(resources: PostgresResourceStore, docref: dict,
                            conn: object | None = None) -> tuple[str | None, str | None, int]:
    """For relatesTo `replaces`: the delivered document's uniqueId, its setId and this one's version."""
    for rel in docref.get("relatesTo") or []:
        if rel.get("code") != "replaces":
            continue
        ref = parse_reference((rel.get("target") or {}).get("reference"))
        if ref is None or ref.res_type != "DocumentReference":
            raise DocumentProblem(Reason.CDA_INVALID, "DocumentReference.relatesTo.target is not a DocumentReference.")
        try:
            old = (await resources.read_any(ref.res_type, ref.id, conn)).as_dict()
        except ResourceNotFound:
            raise DocumentProblem(Reason.CDA_INVALID, f"the replaced {ref} no longer exists.") from None
        ids = {i.get("system"): i.get("value") for i in old.get("identifier") or []}
        if XDS_UNIQUE_ID_SYSTEM not in ids:
            raise DocumentProblem(Reason.CDA_INVALID, f"DocumentReference/{old['id']}, which this document "
                                  "replaces, has not been delivered to the DMP yet: deliver it first.")
        version = int(ids.get(CDA_VERSION_SYSTEM) or 1) + 1
        return (ids[XDS_UNIQUE_ID_SYSTEM], ids.get(CDA_SET_ID_SYSTEM) or _derived_set_id(ids[XDS_UNIQUE_ID_SYSTEM]),
                version)
    return None, None, 1


async def document_set(resources: PostgresResourceStore, docref: dict, unique_id: str,
                       conn: object | None = None) -> tuple[str, int]:
    """setId and versionNumber of a delivered document, as its CDA carries them."""
    _, set_id, version = await replaced_document(resources, docref, conn)
    return set_id or _derived_set_id(unique_id), version


def _first_references(cr: dict) -> tuple[object, object, object, object]:
    """What a request references: subject, payload[0] document, sender, requester agent."""
    return (cr.get("subject"), (cr.get("payload") or [{}])[0].get("contentReference"), cr.get("sender"),
            (cr.get("requester") or {}).get("agent"))


def _type_and_id(value: object) -> tuple[str, str] | None:
    ref = parse_reference(value.get("reference") if isinstance(value, dict) else value)
    return (ref.res_type, ref.id) if ref is not None else None


def patient_ins(patient: dict, settings: Settings) -> Ins:
    """The INS for TD0.2 and XDS: the very one the CDA carries (same rule, NIA-aware)."""
    try:
        return cda_patient_ins(patient, settings)
    except InvalidCdaInputs as exc:
        raise DocumentProblem(Reason.INVALID_PATIENT_IDENTITY, exc.reason) from None


def _derived_set_id(unique_id: str) -> str:
    """setId of a first version: derived from its id, so a rebuild gives the same one."""
    return f"2.25.{uuid.uuid5(uuid.NAMESPACE_OID, 'set/' + unique_id).int}"
