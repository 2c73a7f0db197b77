"""The DMP's metadata rules for a Provide and Register submission (what must be there, coded how).

Sources: xds-metadata.md §3 (DocumentEntry, "R" = required by the DMP), §4 (SubmissionSet), §5 (signature
entry), §6 (HL7 v2 data types), §7 (value sets), §8 (associations); IHE ITI TF-3 §4.2.3 and Table 4.3.1-3.
Every failure is an XDSRegistryMetadataError whose codeContext names the object, the attribute and the rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dmp_gateway.dmp import namespaces as ns
from dmp_gateway.dmp_simulator import valuesets as vs
from dmp_gateway.dmp_simulator.metadata import RegistryObjectView, SubmissionView
from dmp_gateway.dmp_simulator.rejections import REGISTRY_METADATA_ERROR, Rejected, RegistryErrorSpec
from dmp_gateway.ins import INS_OIDS

AUTHOR_SCHEMES = (ns.SS_AUTHOR, ns.DE_AUTHOR)
_OID = re.compile(r"^[0-2](\.(0|[1-9][0-9]*))+$")
_DTM = re.compile(r"^\d{4}(\d{2}(\d{2}(\d{2}(\d{2}(\d{2})?)?)?)?)?$")
_SHA1_HEX = re.compile(r"^[0-9A-Fa-f]{40}$")
_CX_INS = re.compile(r"^([0-9AB]{15})\^\^\^&([0-9.]+)&ISO\^NH$")
_LANGUAGE = re.compile(r"^([a-z]{2,3}(-[A-Z]{2})?|art)$")
DOCUMENT_MIME_TYPES = frozenset({"text/xml", "application/xslt+xml", "application/dicom"})


@dataclass(slots=True)
class EntryFacts:
    """A DocumentEntry that passed the metadata rules."""

    id: str
    unique_id: str
    patient_cx: str
    mime_type: str
    #: SHA-1 of the document, upper-case hex, as the submitter declared it.
    hash: str
    size: int
    is_signature: bool
    #: Structure ids (XON.10) of the entry's authorInstitution values.
    institutions: list[str]
    view: RegistryObjectView


@dataclass(slots=True)
class SubmissionFacts:
    """A submission that passed the metadata rules."""

    set_id: str
    unique_id: str
    patient_cx: str
    institutions: list[str]
    entries: list[EntryFacts]
    #: ExtrinsicObject id → entryUUID it replaces (RPLC association).
    replaces: dict[str, str] = field(default_factory=dict)

    @property
    def signature(self) -> EntryFacts:
        return next(e for e in self.entries if e.is_signature)

    @property
    def documents(self) -> list[EntryFacts]:
        return [e for e in self.entries if not e.is_signature]


class _Errors:
    def __init__(self) -> None:
        self.items: list[RegistryErrorSpec] = []

    def add(self, where: str, text: str) -> None:
        self.items.append(RegistryErrorSpec(REGISTRY_METADATA_ERROR, f"{where}: {text}", where))


def institution_ids(authors: list[dict[str, list[str]]]) -> list[str]:
    """XON.10 (the structure id) of every authorInstitution: `Name^^^^^&oid&ISO^IDNST^^^<id>`."""
    out = []
    for author in authors:
        for xon in author.get("authorInstitution", []):
            parts = xon.split("^")
            if len(parts) >= 10 and parts[9]:
                out.append(parts[9])
    return out


def check_submission(view: SubmissionView, sets: vs.ValueSets) -> SubmissionFacts:
    """Apply the rules; raise Rejected with every XDSRegistryMetadataError found."""
    errors = _Errors()
    if len(view.submission_sets) != 1:
        raise Rejected(REGISTRY_METADATA_ERROR, f"expected exactly one SubmissionSet, found {len(view.submission_sets)}")
    if view.packages:
        errors.add(view.packages[0].id, "folders are not used by the DMP")
    if not view.entries:
        raise Rejected(REGISTRY_METADATA_ERROR, "the submission set contains no DocumentEntry")
    ss = view.submission_sets[0]
    facts = SubmissionFacts(ss.id, "", "", institution_ids(ss.authors), [])
    facts.unique_id = _check_oid(errors, ss, ns.SS_UNIQUE_ID, "uniqueId")
    _check_oid(errors, ss, ns.SS_SOURCE_ID, "sourceId")
    facts.patient_cx = _check_patient(errors, ss, ns.SS_PATIENT_ID)
    _check_dtm(errors, ss, "submissionTime", required=True)
    content = _one_code(errors, ss, ns.SS_CONTENT_TYPE_CODE, "contentTypeCode")
    if content and content.scheme not in vs.CONTENT_TYPE_SYSTEMS:
        errors.add(ss.id, f"contentTypeCode {content.code} has codingScheme {content.scheme}, not one of JDV_J59")
    _check_authors(errors, ss)
    for entry in view.entries:
        facts.entries.append(_check_entry(errors, entry, sets))
    signatures = [e for e in facts.entries if e.is_signature]
    if len(signatures) != 1:
        errors.add(ss.id, f"the DMP requires exactly one signature entry (XAdES), found {len(signatures)}")
    if not any(not e.is_signature for e in facts.entries):
        errors.add(ss.id, "no document entry besides the signature")
    _check_associations(errors, view, facts)
    if errors.items:
        raise Rejected.many(errors.items)
    return facts


def _check_entry(errors: _Errors, entry: RegistryObjectView, sets: vs.ValueSets) -> EntryFacts:
    where = entry.id
    class_code = _one_code(errors, entry, ns.DE_CLASS_CODE, "classCode")
    is_signature = class_code is not None and (class_code.code, class_code.scheme) == vs.SIGNATURE_CLASS
    if entry.element.get("objectType") != ns.DE_OBJECT_TYPE:
        errors.add(where, f"objectType must be {ns.DE_OBJECT_TYPE} (stable DocumentEntry)")
    mime = entry.element.get("mimeType", "")
    unique_id = entry.identifiers.get(ns.DE_UNIQUE_ID, "")
    if not _document_uid_ok(unique_id):
        errors.add(where, f"uniqueId {unique_id!r} must be an OID (or OID^extension) of at most 64 characters")
    patient = _check_patient(errors, entry, ns.DE_PATIENT_ID)
    hash_value, size = entry.slot("hash") or "", entry.slot("size") or ""
    if not _SHA1_HEX.match(hash_value):
        errors.add(where, f"hash {hash_value!r} must be the SHA-1 of the document in 40 hex digits")
    if not size.isdigit():
        errors.add(where, f"size {size!r} must be the document's length in bytes")
    _check_authors(errors, entry)
    if is_signature:
        if mime != "text/xml":
            errors.add(where, "the signature entry's mimeType must be text/xml")
        _fixed_code(errors, entry, ns.DE_TYPE_CODE, "typeCode", vs.SIGNATURE_TYPE)
        _fixed_code(errors, entry, ns.DE_FORMAT_CODE, "formatCode", vs.SIGNATURE_FORMAT)
    else:
        _check_document_entry(errors, entry, sets, class_code, mime)
    return EntryFacts(
        where, unique_id, patient, mime, hash_value.upper(), int(size) if size.isdigit() else -1, is_signature,
        institution_ids(entry.authors), entry,
    )


def _check_document_entry(errors: _Errors, entry: RegistryObjectView, sets: vs.ValueSets, class_code, mime: str) -> None:
    where = entry.id
    if mime not in DOCUMENT_MIME_TYPES:
        errors.add(where, f"mimeType {mime!r} is not one the DMP accepts ({', '.join(sorted(DOCUMENT_MIME_TYPES))})")
    if not (entry.name or "").strip():
        errors.add(where, "title (Name) is required")
    _check_dtm(errors, entry, "creationTime", required=True)
    _check_dtm(errors, entry, "serviceStartTime", required=True)
    _check_dtm(errors, entry, "serviceStopTime", required=False)
    language = entry.slot("languageCode") or ""
    if not _LANGUAGE.match(language):
        errors.add(where, f"languageCode {language!r} is required (e.g. fr-FR)")
    for slot in ("legalAuthenticator", "sourcePatientId"):
        if "^" not in (entry.slot(slot) or ""):
            errors.add(where, f"{slot} is required (HL7 v2 {'XCN' if slot == 'legalAuthenticator' else 'CX'})")
    if class_code and (class_code.scheme != vs.CLASS_CODE_SYSTEM or class_code.code not in vs.CLASS_CODES):
        errors.add(where, f"classCode {class_code.code}@{class_code.scheme} is not in JDV_J57-ClassCode-DMP")
    type_code = _one_code(errors, entry, ns.DE_TYPE_CODE, "typeCode")
    if type_code and not sets.type_code_ok(type_code.code, type_code.scheme):
        errors.add(where, f"typeCode {type_code.code}@{type_code.scheme} is not in JDV_J07-XdsTypeCode-CISIS")
    format_code = _one_code(errors, entry, ns.DE_FORMAT_CODE, "formatCode")
    if format_code and (format_code.scheme not in vs.FORMAT_CODE_SYSTEMS or not format_code.code):
        errors.add(where, f"formatCode {format_code.code}@{format_code.scheme} is not in JDV_J60-FormatCode-DMP")
    confidentiality = entry.codes.get(ns.DE_CONFIDENTIALITY_CODE, [])
    if not 1 <= len(confidentiality) <= 4:
        errors.add(where, f"confidentialityCode must occur 1 to 4 times, found {len(confidentiality)}")
    for coded in confidentiality:
        if (coded.code, coded.scheme) not in vs.CONFIDENTIALITY:
            errors.add(where, f"confidentialityCode {coded.code}@{coded.scheme} is not in JDV_J58")
    facility = _one_code(errors, entry, ns.DE_HEALTHCARE_FACILITY_TYPE_CODE, "healthcareFacilityTypeCode")
    if facility and not sets.facility_ok(facility.code, facility.scheme):
        errors.add(where, f"healthcareFacilityTypeCode {facility.code}@{facility.scheme} is not in JDV_J02/J61")
    practice = _one_code(errors, entry, ns.DE_PRACTICE_SETTING_CODE, "practiceSettingCode")
    if practice and not sets.practice_ok(practice.code, practice.scheme):
        errors.add(where, f"practiceSettingCode {practice.code}@{practice.scheme} is not in JDV_J04/J62")


def _one_code(errors: _Errors, view: RegistryObjectView, scheme: str, label: str):
    codes = view.codes.get(scheme, [])
    if len(codes) != 1:
        errors.add(view.id, f"{label} must occur exactly once, found {len(codes)}")
        return None
    if not codes[0].code or not codes[0].scheme:
        errors.add(view.id, f"{label} needs a nodeRepresentation and a codingScheme slot")
        return None
    return codes[0]


def _fixed_code(errors: _Errors, view: RegistryObjectView, scheme: str, label: str, expected: tuple[str, str]) -> None:
    coded = _one_code(errors, view, scheme, label)
    if coded and (coded.code, coded.scheme) != expected:
        errors.add(view.id, f"{label} of the signature entry must be {expected[0]}@{expected[1]}")


def _check_oid(errors: _Errors, view: RegistryObjectView, scheme: str, label: str) -> str:
    value = view.identifiers.get(scheme, "")
    if not (_OID.match(value) and len(value) <= 64):
        errors.add(view.id, f"{label} {value!r} is required and must be an OID of at most 64 characters")
    return value


def _document_uid_ok(value: str) -> bool:
    root, _, extension = value.partition("^")
    return bool(_OID.match(root)) and len(root) <= 64 and len(value) <= 128 and (extension or "^" not in value)


def _check_patient(errors: _Errors, view: RegistryObjectView, scheme: str) -> str:
    value = view.identifiers.get(scheme, "")
    match = _CX_INS.match(value)
    if not match or match.group(2) not in INS_OIDS:
        errors.add(view.id, f"patientId {value!r} must be the INS as <INS>^^^&<INS OID>&ISO^NH")
    return value


def _check_dtm(errors: _Errors, view: RegistryObjectView, slot: str, *, required: bool) -> None:
    value = view.slot(slot)
    if value is None:
        if required:
            errors.add(view.id, f"{slot} is required")
        return
    if not _DTM.match(value):
        errors.add(view.id, f"{slot} {value!r} is not an HL7 DTM (YYYY[MM[DD[hh[mm[ss]]]]])")


def _check_authors(errors: _Errors, view: RegistryObjectView) -> None:
    if not view.authors:
        errors.add(view.id, "author is required")
    for author in view.authors:
        if "^" not in "".join(author.get("authorPerson", [])):
            errors.add(view.id, "every author needs an authorPerson (XCN)")


def _check_associations(errors: _Errors, view: SubmissionView, facts: SubmissionFacts) -> None:
    entry_ids = {e.id for e in facts.entries}
    members: set[str] = set()
    signs = False
    for assoc in view.associations:
        if assoc.type == ns.ASSOC_HAS_MEMBER and assoc.source == facts.set_id:
            if assoc.slots.get("SubmissionSetStatus", [""])[0] != "Original":
                errors.add(assoc.id or assoc.target, "HasMember needs SubmissionSetStatus = Original")
            members.add(assoc.target)
        elif assoc.type == ns.ASSOC_SIGNS:
            signature = next((e for e in facts.entries if e.is_signature), None)
            signs = signature is not None and assoc.source == signature.id and assoc.target == facts.set_id
        elif assoc.type == ns.ASSOC_RPLC and assoc.source in entry_ids and assoc.target.startswith("urn:uuid:"):
            facts.replaces[assoc.source] = assoc.target
        else:
            errors.add(assoc.id or "Association", f"association {assoc.type} {assoc.source}→{assoc.target} is not supported here")
    for missing in sorted(entry_ids - members):
        errors.add(missing, "no HasMember association links it to the submission set")
    if not signs:
        errors.add(facts.set_id, "a 'signs' association from the signature entry to the submission set is required")
