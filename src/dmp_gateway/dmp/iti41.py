"""ITI-41 Provide and Register Document Set-b for the DMP (TD2.1), and RegistryResponse handling.

Request layout: dmp-interfaces.md §4.2 (DRIMBOX, DRIM-DATA): one SubmissionSet, the CDA's
DocumentEntry, the XAdES signature's entry, HasMember ×2, `signs`, and RPLC for a replacement (§5);
documents travel as MTOM parts `cid:0.2` (CDA) and `cid:0.3` (XAdES). Response: `rs:RegistryResponse`
(§4.3); the error-code classification table (§9) lives here and only here.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

from lxml import etree

from dmp_gateway.dmp import namespaces as ns
from dmp_gateway.dmp.cda_header import CdaHeader
from dmp_gateway.dmp.certs import SigningIdentity
from dmp_gateway.dmp.ebrim import IdSequence, association
from dmp_gateway.dmp.errors import Configuration, DmpError, Duplicate, Permanent, RegistryErrorItem, Transient
from dmp_gateway.dmp.metadata import (
    FeedContext, build_document_entry, build_signature_entry, build_submission_set, check_header, header_author,
)
from dmp_gateway.dmp.mtom import Part, include_element
from dmp_gateway.dmp.types import Submission
from dmp_gateway.dmp.xades import Algorithm, build_submission_signature, signature_id_for

SUBMISSION_SET_ID = "SubmissionSet01"
DOCUMENT_ID = "Document01"
SIGNATURE_ID = "Signature01"
DOCUMENT_CID = "0.2"
SIGNATURE_CID = "0.3"

#: RegistryError codes that a later identical attempt may clear (dmp-interfaces.md §9).
TRANSIENT_CODES = frozenset({
    "XDSRegistryBusy", "XDSRepositoryBusy", "XDSRegistryOutOfResources", "XDSRepositoryOutOfResources",
    "XDSRegistryNotAvailable", "XDSRegistryError", "XDSRepositoryError",
})
#: The structure's own set-up is refused (VIHF, certificate, signature): an operator must fix it; the
#: simulator's codes, the real DMP's are not public (docs/dmp-simulator.md).
CONFIGURATION_CODES = frozenset({"DMPInvalidVIHF", "DMPAuthenticationError", "DMPInvalidSignature"})
#: The uniqueId is already registered: compare with ITI-18 before deciding.
DUPLICATE_CODES = frozenset({"XDSDuplicateUniqueIdInRegistry"})
#: Warnings that do not make a submission fail.
WARNING_CODES = frozenset({
    "XDSExtraMetadataNotSaved", "PartialFolderContentNotProcessed", "PartialReplaceContentNotProcessed",
    "DocumentQueued",
})


def sha1_hex(data: bytes) -> str:
    """XDS `hash`: SHA-1 of the exact bytes, upper-case hex (xds-metadata.md §3)."""
    return hashlib.sha1(data).hexdigest().upper()


@dataclass(frozen=True, slots=True)
class Iti41Request:
    """A ready ITI-41 body (with `xop:Include`s) and the MTOM parts it references."""

    body: etree._Element
    parts: tuple[Part, ...]
    document_hash: str
    document_size: int
    submission_set_unique_id: str
    signature_unique_id: str


def build_iti41(
    submission: Submission,
    header: CdaHeader,
    *,
    signer: SigningIdentity,
    context: FeedContext,
    replaced_entry_uuid: str | None = None,
    signature_algorithm: Algorithm = "rsa-sha1",
) -> Iti41Request:
    """ProvideAndRegisterDocumentSetRequest for one CDA; raises `InvalidSubmission` before building."""
    check_header(header, submission.ins, submission.unique_id)
    ss_uid = submission.effective_submission_set_unique_id
    sig_uid = submission.effective_signature_unique_id
    signature = build_submission_signature(
        signer, submission_set_unique_id=ss_uid, documents={submission.unique_id: submission.cda},
        signature_id=signature_id_for(sig_uid), signing_time=context.submission_time,
        algorithm=signature_algorithm,
    )
    document_hash = submission.cda_sha1.upper() if submission.cda_sha1 else sha1_hex(submission.cda)
    document_size = len(submission.cda)
    if submission.content_type is not None:
        context = dataclasses.replace(context, content_type=submission.content_type)

    request = etree.Element(qname_xdsb("ProvideAndRegisterDocumentSetRequest"),
                            nsmap={"xdsb": ns.XDSB, "lcm": ns.LCM, "rim": ns.RIM})
    objects = etree.SubElement(etree.SubElement(request, qname_lcm("SubmitObjectsRequest")),
                               ns.qname(ns.RIM, "RegistryObjectList"))
    ids = IdSequence()
    build_submission_set(objects, ids, object_id=SUBMISSION_SET_ID, author=header_author(header),
                         ins=submission.ins, unique_id=ss_uid, context=context)
    build_document_entry(objects, ids, object_id=DOCUMENT_ID, header=header, ins=submission.ins,
                         sha1_hex=document_hash, size=document_size, context=context,
                         extra_confidentiality=submission.extra_confidentiality)
    build_signature_entry(objects, ids, object_id=SIGNATURE_ID, header=header, ins=submission.ins,
                          unique_id=sig_uid, sha1_hex=sha1_hex(signature), size=len(signature),
                          signing_time=context.submission_time)
    original = {"SubmissionSetStatus": "Original"}
    association(objects, ids, ns.ASSOC_HAS_MEMBER, SUBMISSION_SET_ID, DOCUMENT_ID, original)
    association(objects, ids, ns.ASSOC_HAS_MEMBER, SUBMISSION_SET_ID, SIGNATURE_ID, original)
    association(objects, ids, ns.ASSOC_SIGNS, SIGNATURE_ID, SUBMISSION_SET_ID)
    if replaced_entry_uuid:
        association(objects, ids, ns.ASSOC_RPLC, DOCUMENT_ID, replaced_entry_uuid)
    for object_id, cid in ((DOCUMENT_ID, DOCUMENT_CID), (SIGNATURE_ID, SIGNATURE_CID)):
        etree.SubElement(request, qname_xdsb("Document"), id=object_id).append(include_element(cid))
    return Iti41Request(
        body=request,
        parts=(Part(DOCUMENT_CID, submission.cda, "text/xml"), Part(SIGNATURE_CID, signature, "text/xml")),
        document_hash=document_hash,
        document_size=document_size,
        submission_set_unique_id=ss_uid,
        signature_unique_id=sig_uid,
    )


def qname_xdsb(local: str) -> str:
    return ns.qname(ns.XDSB, local)


def qname_lcm(local: str) -> str:
    return ns.qname(ns.LCM, local)


# --- RegistryResponse --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class RegistryResult:
    """A parsed `rs:RegistryResponse`; like httpx's Response, it raises only in `raise_for_status()`."""

    status: str
    errors: tuple[RegistryErrorItem, ...] = ()

    @property
    def succeeded(self) -> bool:
        return self.status in (ns.RESPONSE_SUCCESS, ns.RESPONSE_PARTIAL_SUCCESS)

    @property
    def partial(self) -> bool:
        return self.status == ns.RESPONSE_PARTIAL_SUCCESS

    @property
    def warnings(self) -> tuple[RegistryErrorItem, ...]:
        return tuple(e for e in self.errors if e.is_warning or e.code in WARNING_CODES)

    def raise_for_status(self) -> None:
        """Raise `Transient`, `Duplicate` or `Permanent` for a Failure (dmp-interfaces.md §9)."""
        if self.succeeded:
            return
        failures = [e for e in self.errors if not e.is_warning] or list(self.errors)
        raise classify(failures, self.errors)


def classify(failures: list[RegistryErrorItem], everything: tuple[RegistryErrorItem, ...] = ()) -> DmpError:
    """One exception for a failed response: any permanent error wins, then duplicate, then transient."""
    if not failures:
        return Permanent("the DMP answered Failure without a RegistryError", code="Failure", errors=everything)
    kinds = [_kind(e.code) for e in failures]
    if Configuration in kinds:
        chosen, kind = failures[kinds.index(Configuration)], Configuration
    elif Permanent in kinds:
        chosen, kind = failures[kinds.index(Permanent)], Permanent
    elif Duplicate in kinds:
        chosen, kind = failures[kinds.index(Duplicate)], Duplicate
    else:
        chosen, kind = failures[0], Transient
    return kind(f"{chosen.code}: {chosen.context}" if chosen.context else chosen.code, code=chosen.code,
                context=chosen.context, location=chosen.location, errors=everything or tuple(failures))


def _kind(code: str) -> type[DmpError]:
    if code in CONFIGURATION_CODES:
        return Configuration
    if code in TRANSIENT_CODES:
        return Transient
    if code in DUPLICATE_CODES:
        return Duplicate
    return Permanent


def parse_registry_errors(element: etree._Element) -> tuple[RegistryErrorItem, ...]:
    """Every `rs:RegistryError` under `element` (RegistryResponse or AdhocQueryResponse)."""
    return tuple(
        RegistryErrorItem(
            code=error.get("errorCode", ""),
            context=error.get("codeContext", "") or (error.text or "").strip(),
            location=error.get("location"),
            severity=error.get("severity", ns.SEVERITY_ERROR),
        )
        for error in element.iter(ns.qname(ns.RS, "RegistryError"))
    )


def parse_registry_response(element: etree._Element) -> RegistryResult:
    """Read a RegistryResponse (ITI-41, ITI-57); raises `Permanent` if the body is something else."""
    if element.tag != ns.qname(ns.RS, "RegistryResponse"):
        raise Permanent("the answer is not a RegistryResponse", code="UNEXPECTED_BODY", context=str(element.tag))
    status = element.get("status", "")
    if status not in (ns.RESPONSE_SUCCESS, ns.RESPONSE_FAILURE, ns.RESPONSE_PARTIAL_SUCCESS):
        raise Permanent(f"unknown RegistryResponse status {status!r}", code="UNEXPECTED_STATUS", context=status)
    return RegistryResult(status=status, errors=parse_registry_errors(element))


__all__ = [
    "CONFIGURATION_CODES",
    "DUPLICATE_CODES",
    "Iti41Request",
    "RegistryResult",
    "TRANSIENT_CODES",
    "build_iti41",
    "classify",
    "parse_registry_errors",
    "parse_registry_response",
    "sha1_hex",
]
