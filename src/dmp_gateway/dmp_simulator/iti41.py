"""ITI-41 Provide and Register Document Set-b (TD2.1): judge a submission, then register it.

The checks run cheapest first and each fails with the error it deserves (dmp-interfaces.md §4, §9, §10;
xds-metadata.md; IHE ITI TF-2b §3.41.4.1.3 and TF-3 Table 4.2.4.1-2):

1. body is a ProvideAndRegisterDocumentSetRequest (else SOAP Sender fault);
2. VIHF (vihf.py: DMPInvalidVIHF / DMPAuthenticationError);
3. ebRS schema of the SubmitObjectsRequest, then the DMP metadata rules (rules.py: XDSRegistryMetadataError);
4. every entry has its document and every document its entry (XDSMissingDocument / XDSMissingDocumentMetadata),
   no uniqueId twice in the message (XDSRegistryDuplicateUniqueIdInMessage);
5. hash and size match the bytes received (XDSRepositoryMetadataError);
6. one patientId on the SubmissionSet, every entry and the VIHF resource-id (XDSPatientIdDoesNotMatch);
7. an authorInstitution of the submission set and of each entry is the VIHF structure (DMPAuthenticationError);
8. the patient has a DMP (XDSUnknownPatientId) that is open (DMPClosed);
9. each CDA is XSD-valid and its header agrees with the metadata (InvalidDocumentContent / XDSRegistryMetadataError);
10. the XAdES signature and its manifest digests (xades.py: DMPInvalidSignature);
11. the schematron, with --strict-cda (InvalidDocumentContent);
12. no uniqueId already registered (XDSDuplicateUniqueIdInRegistry, decided by the unique indexes at insert);
    an RPLC target exists and is Approved (UnresolvedReferenceException / XDSRegistryDeprecatedDocumentError).
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography import x509
from lxml import etree

from dmp_gateway.dmp.namespaces import LCM, STATUS_APPROVED, XDSB, qname
from dmp_gateway.dmp_simulator import rejections as codes
from dmp_gateway.dmp_simulator.cda import check_header
from dmp_gateway.dmp_simulator.metadata import read_submission
from dmp_gateway.dmp.mtom import MtomError, element_content
from dmp_gateway.dmp_simulator.mtom import SoapPackage
from dmp_gateway.dmp_simulator.patients import DmpState
from dmp_gateway.dmp_simulator.registry import DuplicateUniqueId, NewDocument
from dmp_gateway.dmp_simulator.rejections import Rejected, RegistryErrorSpec, SoapFault
from dmp_gateway.dmp_simulator.rules import AUTHOR_SCHEMES, SubmissionFacts, check_submission
from dmp_gateway.dmp_simulator.soap import SoapRequest
from dmp_gateway.dmp_simulator.vihf import VihfIdentity, check_vihf
from dmp_gateway.dmp_simulator.xades import DocumentBytes, check_submission_signature

if TYPE_CHECKING:
    from dmp_gateway.dmp_simulator.simulator import Simulator

CDA_MIME_TYPES = ("text/xml", "application/xslt+xml")


@dataclass(frozen=True, slots=True)
class Registered:
    """An accepted submission: the entryUUIDs the registry assigned, in entry order."""

    entry_uuids: list[uuid.UUID]
    unique_ids: list[str]


async def handle_iti41(
    sim: "Simulator", request: SoapRequest, package: SoapPackage, tls_certificate: x509.Certificate | None
) -> Registered:
    """Judge and register one submission; raise Rejected or SoapFault when it breaks a rule."""
    body = request.body
    if body.tag != qname(XDSB, "ProvideAndRegisterDocumentSetRequest"):
        raise SoapFault("Sender", f"the body of ITI-41 must be xdsb:ProvideAndRegisterDocumentSetRequest, not {body.tag}")
    now = sim.now()
    identity = check_vihf(
        request.header, trust=sim.trust, now=now, policy=sim.config.vihf, tls_certificate=tls_certificate
    )
    submit = body.find(qname(LCM, "SubmitObjectsRequest"))
    if submit is None:
        raise Rejected(codes.REGISTRY_METADATA_ERROR, "ProvideAndRegisterDocumentSetRequest has no lcm:SubmitObjectsRequest")
    errors = sim.schemas.errors(submit) if sim.schemas is not None else []
    if errors:
        raise Rejected(codes.REGISTRY_METADATA_ERROR, "SubmitObjectsRequest is not valid ebRS 3.0: " + "; ".join(errors[:3]))
    facts = check_submission(read_submission(submit, AUTHOR_SCHEMES), sim.value_sets)
    contents = _attachments(body, package, facts)
    _check_unique_in_message(facts)
    _check_hash_and_size(facts, contents)
    _check_patient(facts, identity)
    _check_institutions(facts, identity)
    record = sim.patients.lookup(identity.patient_ins)
    if record.state is DmpState.NONE:
        raise Rejected(codes.UNKNOWN_PATIENT_ID, f"no DMP for patient {facts.patient_cx}", facts.patient_cx)
    if record.state is DmpState.CLOSED:
        closed = f" since {record.closed_on.isoformat()}" if record.closed_on else ""
        raise Rejected(codes.DMP_CLOSED, f"the patient's DMP is closed{closed}", facts.patient_cx)
    signed: dict[str, DocumentBytes] = {}
    for entry in facts.documents:
        tree = None
        if entry.mime_type in CDA_MIME_TYPES:
            tree = sim.cda.parse(contents[entry.id], entry.unique_id)
            sim.cda.check_schema(tree, entry.unique_id)
            check_header(tree, unique_id=entry.unique_id, patient_ins=identity.patient_ins, location=entry.unique_id)
        signed[entry.unique_id] = DocumentBytes(contents[entry.id], tree)
    check_submission_signature(
        contents[facts.signature.id], documents=signed, submission_set_uid=facts.unique_id, trust=sim.trust,
        now=now, structure=identity.structure_id, location=facts.signature.unique_id,
    )
    for entry in facts.documents:
        if entry.mime_type in CDA_MIME_TYPES:
            await sim.cda.check_schematron(contents[entry.id], entry.unique_id)
    registry = await sim.ready_registry()
    unique_ids = [e.unique_id for e in facts.entries]
    deprecate = await _replaced(sim, facts)
    documents = [
        NewDocument(
            e.unique_id, identity.patient_ins, e.patient_cx, e.hash, e.size, e.mime_type, e.is_signature,
            etree.tostring(e.view.element, encoding="unicode"), contents[e.id],
        )
        for e in facts.entries
    ]
    try:
        entry_uuids = await registry.register(
            set_unique_id=facts.unique_id, patient=identity.patient_ins, documents=documents, deprecate=deprecate,
            received_at=now,
        )
    except DuplicateUniqueId as exc:
        raise _duplicate(exc.unique_id or "?") from exc
    return Registered(entry_uuids, unique_ids)


def _duplicate(unique_id: str) -> Rejected:
    return Rejected(
        codes.DUPLICATE_UNIQUE_ID_IN_REGISTRY, f"uniqueId {unique_id} is already registered (document already exists)",
        unique_id,
    )


def _attachments(body: etree._Element, package: SoapPackage, facts: SubmissionFacts) -> dict[str, bytes]:
    """Bytes of each xdsb:Document by entry id, from its MTOM part (xop:Include) or inline base64."""
    contents: dict[str, bytes] = {}
    for document in body.findall(qname(XDSB, "Document")):
        doc_id = document.get("id", "")
        try:
            contents[doc_id] = element_content(document, package.parts)
        except MtomError as exc:
            raise Rejected(codes.MISSING_DOCUMENT, f"document {doc_id}: {exc}", doc_id) from exc
    entry_ids = {e.id for e in facts.entries}
    for entry in facts.entries:
        if entry.id not in contents:
            raise Rejected(codes.MISSING_DOCUMENT, f"DocumentEntry {entry.id} has no xdsb:Document", entry.unique_id)
    for doc_id in contents:
        if doc_id not in entry_ids:
            raise Rejected(codes.MISSING_DOCUMENT_METADATA, f"xdsb:Document {doc_id} has no ExtrinsicObject", doc_id)
    return contents


def _check_unique_in_message(facts: SubmissionFacts) -> None:
    counts = Counter([facts.unique_id, *(e.unique_id for e in facts.entries)])
    repeated = sorted(uid for uid, n in counts.items() if n > 1)
    if repeated:
        raise Rejected(codes.DUPLICATE_UNIQUE_ID_IN_MESSAGE, f"uniqueId {repeated[0]} appears twice in the message", repeated[0])


def _check_hash_and_size(facts: SubmissionFacts, contents: dict[str, bytes]) -> None:
    errors = []
    for entry in facts.entries:
        data = contents[entry.id]
        actual_hash = hashlib.sha1(data).hexdigest().upper()
        if entry.hash != actual_hash:
            errors.append(RegistryErrorSpec(
                codes.REPOSITORY_METADATA_ERROR,
                f"hash {entry.hash} of {entry.id} does not match the document received (SHA-1 {actual_hash})",
                entry.unique_id,
            ))
        if entry.size != len(data):
            errors.append(RegistryErrorSpec(
                codes.REPOSITORY_METADATA_ERROR,
                f"size {entry.size} of {entry.id} does not match the document received ({len(data)} bytes)",
                entry.unique_id,
            ))
    if errors:
        raise Rejected.many(errors)


def _check_patient(facts: SubmissionFacts, identity: VihfIdentity) -> None:
    for entry in facts.entries:
        if entry.patient_cx != facts.patient_cx:
            raise Rejected(
                codes.PATIENT_ID_DOES_NOT_MATCH,
                f"patientId of {entry.id} ({entry.patient_cx}) differs from the submission set's ({facts.patient_cx})",
                entry.unique_id,
            )
    if identity.patient_cx != facts.patient_cx:
        raise Rejected(
            codes.PATIENT_ID_DOES_NOT_MATCH,
            f"the VIHF resource-id ({identity.patient_cx}) is not the submission set's patientId ({facts.patient_cx})",
            facts.unique_id,
        )


def _check_institutions(facts: SubmissionFacts, identity: VihfIdentity) -> None:
    holders = [(facts.set_id, facts.institutions)] + [(e.id, e.institutions) for e in facts.entries]
    for object_id, institutions in holders:
        if identity.structure_id not in institutions:
            raise Rejected(
                codes.AUTHENTICATION_ERROR,
                f"Aucun AuthorInstitution ne correspond à l'utilisateur du VIHF: {object_id} has "
                f"{', '.join(institutions) or 'no authorInstitution'}, the VIHF structure is {identity.structure_id}",
                object_id,
            )


async def _replaced(sim: "Simulator", facts: SubmissionFacts) -> list[uuid.UUID]:
    """entryUUIDs an RPLC association replaces; each must exist and still be Approved."""
    targets: list[uuid.UUID] = []
    registry = await sim.ready_registry()
    for target in facts.replaces.values():
        try:
            entry_uuid = uuid.UUID(target[9:])
        except ValueError as exc:
            raise Rejected(codes.UNRESOLVED_REFERENCE, f"RPLC target {target} is not a urn:uuid", target) from exc
        found = await registry.documents(entry_uuids=[entry_uuid])
        if not found:
            raise Rejected(codes.UNRESOLVED_REFERENCE, f"RPLC target {target} is not in the registry", target)
        if found[0].status != STATUS_APPROVED:
            raise Rejected(codes.DEPRECATED_DOCUMENT, f"RPLC target {target} is no longer Approved", target)
        targets.append(entry_uuid)
    return targets
