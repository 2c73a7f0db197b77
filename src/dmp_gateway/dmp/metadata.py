"""XDS.b metadata of a DMP feed: SubmissionSet, the CDA's DocumentEntry and the signature entry.

Mapping from the CDA header: xds-metadata.md §3 (HL7V2-IG mapping.md, PDSM4DMP); SubmissionSet §4;
signature entry §5; HL7 v2 types §6; codes §7. Builders return lxml elements (never strings) and
are pure: the caller passes the clock reading and the connector's settings in `FeedContext`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from lxml import etree

from dmp_gateway.dmp import namespaces as ns
from dmp_gateway.dmp.cda_header import Author, CdaHeader, Identifier, Organization, Person
from dmp_gateway.dmp.ebrim import (
    IdSequence, author_classification, coded, external_identifier, hl7_escape, localized, rim, slot,
)
from dmp_gateway.dmp.errors import InvalidSubmission
from dmp_gateway.dmp.types import Code
from dmp_gateway.ins import Ins

PS_IDNAT_OID = "1.2.250.1.71.4.2.1"
STRUCT_IDNAT_OID = "1.2.250.1.71.4.2.2"
CLASS_CODE_SYSTEM = "1.2.250.1.213.1.1.4.1"
FORMAT_CODE_SYSTEM = "1.3.6.1.4.1.19376.1.2.3"

#: formatCode by CDA N1 body media type (JDV_J60, xds-metadata.md §7).
FORMAT_BY_MEDIA_TYPE: dict[str, Code] = {
    "application/pdf": Code("urn:ihe:iti:xds-sd:pdf:2008", FORMAT_CODE_SYSTEM, "Document à corps non structuré en Pdf/A-1"),
    "text/plain": Code("urn:ihe:iti:xds-sd:text:2008", FORMAT_CODE_SYSTEM, "Document à corps non structuré en texte brut"),
    "text/rtf": Code("urn:ihe:iti-fr:xds-sd:rtf:2010", FORMAT_CODE_SYSTEM, "Document à corps non structuré en RTF"),
    "image/jpeg": Code("urn:ihe:iti-fr:xds-sd:jpeg:2010", FORMAT_CODE_SYSTEM, "Document à corps non structuré en JPEG"),
    "image/tiff": Code("urn:ihe:iti-fr:xds-sd:tiff:2010", FORMAT_CODE_SYSTEM, "Document à corps non structuré en TIFF"),
}

_COMPTE_RENDU = Code("10", CLASS_CODE_SYSTEM, "Compte rendu")
#: classCode by typeCode (NOS ASS_X04, partial: the association table is not public; default `10`).
CLASS_BY_TYPE: dict[str, Code] = {
    "34133-9": Code("11", CLASS_CODE_SYSTEM, "Synthèse"),
    "60591-5": Code("11", CLASS_CODE_SYSTEM, "Synthèse"),
    "57833-6": Code("42", CLASS_CODE_SYSTEM, "Prescription"),
    "57828-6": Code("42", CLASS_CODE_SYSTEM, "Prescription"),
    "18748-4": Code("31", CLASS_CODE_SYSTEM, "Imagerie médicale"),
    "60593-1": Code("43", CLASS_CODE_SYSTEM, "Dispensation"),
    "87273-9": Code("45", CLASS_CODE_SYSTEM, "Traitement administré"),
}

#: Signature entry codes (xds-metadata.md §5).
SIGNATURE_CLASS = Code("urn:oid:1.3.6.1.4.1.19376.1.2.1.1.1", "URN", "Digital Signature")
SIGNATURE_TYPE = Code("E1762", "ASTM", "Full Document")
SIGNATURE_FORMAT = Code("http://www.w3.org/2000/09/xmldsig#", "URN", "Default Signature Style")
SIGNATURE_EVENT = Code(ns.PURPOSE_OF_SIGNATURE, "1.2.840.10065.1.12", "Source")
SIGNATURE_CONFIDENTIALITY = (
    Code("N", "2.16.840.1.113883.5.25", "Normal"),
    Code("MASQUE_PS", "1.2.250.1.213.1.1.4.13", "Masqué aux professionnels de santé"),
    Code("INVISIBLE_PATIENT", "1.2.250.1.213.1.1.4.13", "Non visible par le patient"),
)
#: Default SubmissionSet contentTypeCode (JDV_J59; per-organisation setting, request may override).
DEFAULT_CONTENT_TYPE = Code("04", "1.2.250.1.213.2.2", "Hospitalisation de jour")

_OID = re.compile(r"^[0-2](\.(0|[1-9][0-9]*))+$")
_TS = re.compile(r"^(\d{4,14})(?:\.\d+)?([+-]\d{4})?$")


@dataclass(frozen=True, slots=True)
class FeedContext:
    """What the metadata needs besides the CDA: connector settings and the clock reading."""

    #: XDSSubmissionSet.sourceId: OID of the emitting system.
    source_id: str
    submission_time: dt.datetime
    content_type: Code = DEFAULT_CONTENT_TYPE
    #: Emit DTM in UTC (IHE); False keeps the CDA's local time (the ANS sample's habit).
    utc: bool = True


def dtm(value: str, *, utc: bool = True) -> str:
    """HL7 TS → XDS DTM `YYYY[MM[DD[hh[mm[ss]]]]]`, converted to UTC when an offset is given."""
    match = _TS.match(value.strip())
    if not match:
        raise InvalidSubmission(f"time {value!r} is not an HL7 TS", code="CDA_BAD_TIME", location=value)
    digits, offset = match.groups()
    if not offset or not utc or len(digits) < 10:
        return digits
    padded = digits.ljust(14, "0")
    moment = dt.datetime.strptime(padded, "%Y%m%d%H%M%S")
    sign = 1 if offset[0] == "+" else -1
    delta = dt.timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5]))
    return (moment - sign * delta).strftime("%Y%m%d%H%M%S")[: len(digits)]


def dtm_now(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y%m%d%H%M%S")


def cx(identifier: Identifier, kind: str) -> str:
    """HL7 v2 CX `<id>^^^&<oid>&ISO^<type>` (xds-metadata.md §6)."""
    return f"{hl7_escape(identifier.extension or '')}^^^&{identifier.root}&ISO^{kind}"


def xcn(person: Person) -> str:
    """XCN of a professional (`…^D^^^IDNPS`) or a system author (`…^U^^^RI`), xds-metadata.md §6."""
    identifier = hl7_escape(person.id.extension or "")
    names = f"{hl7_escape(person.family)}^{hl7_escape(person.given)}"
    authority = f"&{person.id.root}&ISO"
    if person.device:
        return f"{identifier}^{names}^^^^^^{authority}^U^^^RI"
    kind = "IDNPS" if person.id.root == PS_IDNAT_OID else "EI"
    return f"{identifier}^{names}^^^^^^{authority}^D^^^{kind}"


def xon(organization: Organization) -> str:
    """XON `<Name>^^^^^&1.2.250.1.71.4.2.2&ISO^IDNST^^^<Struct_IdNat>` (xds-metadata.md §6)."""
    kind = "IDNST" if organization.id.root == STRUCT_IDNAT_OID else "XX"
    return (f"{hl7_escape(organization.name)}^^^^^&{organization.id.root}&ISO^{kind}^^^"
            f"{hl7_escape(organization.id.extension or '')}")


def coded_text(code: Code) -> str:
    """`code^display^codeSystem` (authorSpecialty / authorRole form, xds-metadata.md §6)."""
    return f"{hl7_escape(code.code)}^{hl7_escape(code.display)}^{code.scheme}"


def check_header(header: CdaHeader, ins: Ins, unique_id: str) -> None:
    """The DMP rules a CDA must meet before we send it; raises `InvalidSubmission` naming field and rule."""
    def fail(field: str, rule: str) -> None:
        raise InvalidSubmission(f"{field}: {rule}", code="INVALID_METADATA", location=field)

    if header.unique_id != unique_id:
        fail("uniqueId", f"must equal the CDA id ({header.unique_id!r}), got {unique_id!r}")
    if len(unique_id) > 64 or not _OID.match(header.document_id.root):
        fail("uniqueId", "must be an OID of at most 64 characters")
    found = header.ins_identifier()
    if found is None or found.extension != ins.value or found.root != ins.oid:
        fail("recordTarget/patientRole/id", f"the CDA's INS must be {ins.value} ({ins.oid})")
    if not header.authors:
        fail("author", "the CDA needs at least one author with an id")
    if header.service_start is None:
        fail("documentationOf/serviceEvent/effectiveTime/low", "required by the DMP (serviceStartTime)")
    if header.healthcare_facility_type is None:
        fail("healthCareFacility/code", "required by the DMP (healthcareFacilityTypeCode)")
    if header.practice_setting is None:
        fail("standardIndustryClassCode", "required by the DMP (practiceSettingCode)")
    if header.body_media_type not in FORMAT_BY_MEDIA_TYPE:
        fail("nonXMLBody/text/@mediaType", f"must be one of {sorted(FORMAT_BY_MEDIA_TYPE)}")


@dataclass(frozen=True, slots=True)
class AuthorSlots:
    """An XDS author as its four slot values (authorPerson XCN, authorInstitution XON, role, specialty)."""

    person: str
    institution: str | None = None
    role: str | None = None
    specialty: str | None = None

    @classmethod
    def of(cls, author: Author, institution: Organization | None) -> "AuthorSlots":
        return cls(
            person=xcn(author.person),
            institution=xon(institution) if institution else None,
            role=coded_text(author.role) if author.role else None,
            specialty=coded_text(author.specialty) if author.specialty else None,
        )


def _author(parent: etree._Element, ids: IdSequence, scheme: str, object_id: str, author: AuthorSlots) -> None:
    author_classification(parent, ids, scheme, object_id, person=author.person, institution=author.institution,
                          role=author.role, specialty=author.specialty)


def submission_institution(header: CdaHeader) -> Organization | None:
    """The one authorInstitution used on every object (DMP over-constraint, xds-metadata.md §3)."""
    return next((a.institution for a in header.authors if a.institution), None)


def header_author(header: CdaHeader) -> AuthorSlots:
    """The SubmissionSet author: the CDA's first author with the shared institution."""
    return AuthorSlots.of(header.authors[0], submission_institution(header))


def build_submission_set(parent: etree._Element, ids: IdSequence, *, object_id: str, author: AuthorSlots,
                         ins: Ins, unique_id: str, context: FeedContext) -> etree._Element:
    """The SubmissionSet RegistryPackage (xds-metadata.md §4)."""
    package = etree.SubElement(parent, rim("RegistryPackage"), id=object_id)
    slot(package, "submissionTime", [dtm_now(context.submission_time)])
    _author(package, ids, ns.SS_AUTHOR, object_id, author)
    coded(package, ids, ns.SS_CONTENT_TYPE_CODE, object_id, context.content_type)
    etree.SubElement(package, rim("Classification"), id=ids.next("cl"),
                     classificationNode=ns.SS_CLASSIFICATION_NODE, classifiedObject=object_id)
    external_identifier(package, ids, ns.SS_PATIENT_ID, object_id, ins.cx)
    external_identifier(package, ids, ns.SS_SOURCE_ID, object_id, context.source_id)
    external_identifier(package, ids, ns.SS_UNIQUE_ID, object_id, unique_id)
    return package


def _extrinsic(parent: etree._Element, object_id: str) -> etree._Element:
    return etree.SubElement(parent, rim("ExtrinsicObject"), id=object_id, mimeType="text/xml",
                            objectType=ns.DE_OBJECT_TYPE)


def _source_patient(header: CdaHeader, ins: Ins) -> str:
    local = header.local_patient_identifier()
    return cx(local, "PI") if local else cx(Identifier(ins.oid, ins.value), "PI")


def _patient_info(header: CdaHeader) -> list[str]:
    info = []
    if header.patient_family or header.patient_given:
        info.append(f"PID-5|{hl7_escape(header.patient_family)}^{hl7_escape(header.patient_given)}^^^^^L")
    if header.patient_birth_time:
        info.append(f"PID-7|{header.patient_birth_time[:8]}")
    if header.patient_gender in ("M", "F", "U"):
        info.append(f"PID-8|{header.patient_gender}")
    return info


def build_document_entry(parent: etree._Element, ids: IdSequence, *, object_id: str, header: CdaHeader,
                         ins: Ins, sha1_hex: str, size: int, context: FeedContext,
                         extra_confidentiality: tuple[Code, ...] = (),
                         class_code: Code | None = None) -> etree._Element:
    """The CDA's DocumentEntry from its header (xds-metadata.md §3)."""
    entry = _extrinsic(parent, object_id)
    slot(entry, "creationTime", [dtm(header.effective_time, utc=context.utc)])
    slot(entry, "hash", [sha1_hex])
    slot(entry, "languageCode", [header.language_code])
    if header.legal_authenticator is not None:
        slot(entry, "legalAuthenticator", [xcn(header.legal_authenticator)])
    slot(entry, "serviceStartTime", [dtm(header.service_start or header.effective_time, utc=context.utc)])
    if header.service_stop:
        slot(entry, "serviceStopTime", [dtm(header.service_stop, utc=context.utc)])
    slot(entry, "size", [str(size)])
    slot(entry, "sourcePatientId", [_source_patient(header, ins)])
    info = _patient_info(header)
    if info:
        slot(entry, "sourcePatientInfo", info)
    localized(entry, "Name", header.title)
    institution = submission_institution(header)
    for author in header.authors:
        _author(entry, ids, ns.DE_AUTHOR, object_id, AuthorSlots.of(author, institution))
    coded(entry, ids, ns.DE_CLASS_CODE, object_id, class_code or CLASS_BY_TYPE.get(header.type_code.code, _COMPTE_RENDU))
    for code in (header.confidentiality, *extra_confidentiality):
        coded(entry, ids, ns.DE_CONFIDENTIALITY_CODE, object_id, code)
    coded(entry, ids, ns.DE_FORMAT_CODE, object_id, FORMAT_BY_MEDIA_TYPE[header.body_media_type or ""])
    coded(entry, ids, ns.DE_HEALTHCARE_FACILITY_TYPE_CODE, object_id, header.healthcare_facility_type)
    coded(entry, ids, ns.DE_PRACTICE_SETTING_CODE, object_id, header.practice_setting)
    coded(entry, ids, ns.DE_TYPE_CODE, object_id, header.type_code)
    external_identifier(entry, ids, ns.DE_PATIENT_ID, object_id, ins.cx)
    external_identifier(entry, ids, ns.DE_UNIQUE_ID, object_id, header.unique_id)
    return entry


def build_signature_entry(parent: etree._Element, ids: IdSequence, *, object_id: str, header: CdaHeader,
                          ins: Ins, unique_id: str, sha1_hex: str, size: int,
                          signing_time: dt.datetime) -> etree._Element:
    """The XAdES document's own DocumentEntry (xds-metadata.md §5)."""
    entry = _extrinsic(parent, object_id)
    when = dtm_now(signing_time)
    author = header.authors[0]
    slot(entry, "creationTime", [when])
    slot(entry, "hash", [sha1_hex])
    slot(entry, "languageCode", ["art"])
    slot(entry, "legalAuthenticator", [xcn(author.person)])
    slot(entry, "serviceStartTime", [when])
    slot(entry, "serviceStopTime", [when])
    slot(entry, "size", [str(size)])
    slot(entry, "sourcePatientId", [_source_patient(header, ins)])
    localized(entry, "Name", "Source")
    _author(entry, ids, ns.DE_AUTHOR, object_id, header_author(header))
    coded(entry, ids, ns.DE_CLASS_CODE, object_id, SIGNATURE_CLASS)
    for code in SIGNATURE_CONFIDENTIALITY:
        coded(entry, ids, ns.DE_CONFIDENTIALITY_CODE, object_id, code)
    coded(entry, ids, ns.DE_EVENT_CODE, object_id, SIGNATURE_EVENT)
    coded(entry, ids, ns.DE_FORMAT_CODE, object_id, SIGNATURE_FORMAT)
    coded(entry, ids, ns.DE_HEALTHCARE_FACILITY_TYPE_CODE, object_id, header.healthcare_facility_type)
    coded(entry, ids, ns.DE_PRACTICE_SETTING_CODE, object_id, header.practice_setting)
    coded(entry, ids, ns.DE_TYPE_CODE, object_id, SIGNATURE_TYPE)
    external_identifier(entry, ids, ns.DE_PATIENT_ID, object_id, ins.cx)
    external_identifier(entry, ids, ns.DE_UNIQUE_ID, object_id, unique_id)
    return entry


__all__ = [
    "AuthorSlots",
    "header_author",
    "DEFAULT_CONTENT_TYPE",
    "FeedContext",
    "build_document_entry",
    "build_signature_entry",
    "build_submission_set",
    "check_header",
    "cx",
    "dtm",
    "xcn",
    "xon",
]
