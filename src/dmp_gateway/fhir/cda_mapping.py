"""FHIR STU3 resources of one delivery -> the FHIR-free inputs of `dmp_gateway.cda`, and the CDA itself.

The mapping (each CDA element, its FHIR source, the rule when it is missing) is the table in
docs/cda-mapping.md: keep the two in step. Every missing or invalid input is collected, then raised as one
`InvalidCdaInputs` whose text becomes the Communication's reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, BinaryIO

from dmp_gateway import ins as ins_leaf
from dmp_gateway.cda import nir_traits, valuesets
from dmp_gateway.cda.builder import build_cda_with_layout, write_cda
from dmp_gateway.cda.checks import check_inputs
from dmp_gateway.cda.errors import InvalidCdaInputs, Problem, raise_if_any
from dmp_gateway.cda.ids import is_oid, mint_document_oid
from dmp_gateway.cda.inputs import (AuthoringDevice, CdaInputs, Code, DocumentMetadata, Gender, HealthProfessional,
                                    InstanceId, Organization, PatientIdentity, PdfSource, Timestamp)
from dmp_gateway.cda.national_ids import (StructureKind, normalize_structure_id, ps_national_id_from_rpps,
                                          structure_national_id, system_national_id)
from dmp_gateway.cda.ns import LOINC
from dmp_gateway.cda.pdf import PdfInfo, inspect_pdf
from dmp_gateway.cda.pdfa import Converter, PdfaPolicy, PdfPreparation, decide, prepare_pdf
from dmp_gateway.cda.timestamps import parse_iso
from dmp_gateway.config import Settings
from dmp_gateway.fhir.codes import FINESS_SYSTEMS, RPPS_SYSTEMS, SIRET_SYSTEMS

__all__ = ["CodeDefaults", "RequestResources", "PreparedCda", "prepare_cda_inputs", "build_cda_for_resources",
           "build_prepared_cda", "write_cda_for_resources", "patient_ins", "mint_document_oid", "unique_id_from_master_identifier"]

Resource = dict[str, Any]
BIRTH_PLACE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/birthPlace"
#: FHIR code-system URIs whose OID a CDA `@codeSystem` needs.
_SYSTEM_OIDS = {"http://loinc.org": LOINC, "http://hl7.org/fhir/v3/Confidentiality": "2.16.840.1.113883.5.25"}
_GENDERS = {"male": Gender.MALE, "female": Gender.FEMALE}
#: Identifier type codes (fr-core v2-0203, HL7 v2 table 0203) that name a structure's directory.
_STRUCTURE_TYPES = {"FINEG": StructureKind.FINESS, "FINEJ": StructureKind.FINESS, "SIRET": StructureKind.SIRET}


@dataclass(frozen=True)
class CodeDefaults:
    """Per-organization fallbacks for XDS codes the DocumentReference may leave out."""

    #: JDV_J02 code (e.g. ``SA07``) when ``context.facilityType`` is absent.
    facility_type: str | None = None
    #: JDV_J04 code (e.g. ``AMBULATOIRE``) when ``context.practiceSetting`` is absent.
    practice_setting: str | None = None


@dataclass(frozen=True)
class RequestResources:
    """The stored STU3 JSON of one CommunicationRequest's delivery, resolved by the caller."""

    patient: Resource
    document_reference: Resource
    #: CommunicationRequest.sender: a Practitioner (user token) or an Organization (application token).
    sender: Resource
    #: CommunicationRequest.requester.agent: an Organization.
    requester: Resource
    #: The Binary's bytes, or the path of the stored file.
    pdf: PdfSource
    #: ClinicalDocument/id and setId, minted once (`mint_document_oid`) and stored by the caller.
    unique_id: str
    set_id: str
    #: DocumentReference.authenticator, resolved (a Practitioner).
    authenticator: Resource | None = None
    #: DocumentReference.custodian, resolved (an Organization).
    custodian: Resource | None = None
    #: uniqueId of the document that relatesTo.replaces points at; its setId goes in `set_id`.
    replaced_unique_id: str | None = None
    version_number: int = 1
    #: When the gateway received the request: effectiveTime when the DocumentReference has no date.
    received_at: datetime | None = None
    defaults: CodeDefaults = field(default_factory=CodeDefaults)


@dataclass(frozen=True)
class PreparedCda:
    """Inputs ready to build (PDF already converted when the policy said so) and the PDF/A decision."""

    inputs: CdaInputs
    pdf: PdfPreparation


def unique_id_from_master_identifier(document_reference: Resource) -> str | None:
    """The client's own document OID (``masterIdentifier`` ``urn:oid:``), when it can be a uniqueId."""
    value = _str(_dict(_dict(document_reference).get("masterIdentifier")).get("value"))
    oid = value[8:] if value.startswith("urn:oid:") else value
    return oid if is_oid(oid) else None


def prepare_cda_inputs(resources: RequestResources, settings: Settings, *,
                       converter: Converter | None = None) -> PreparedCda:
    """Map, check everything (FHIR, CDA rules, PDF, PDF/A policy) into one error, then apply the policy."""
    problems: list[Problem] = []
    inputs = _Mapper(resources, settings, problems).inputs()
    policy = PdfaPolicy(settings.pdfa_policy)
    info: PdfInfo | None = None
    try:
        info = inspect_pdf(resources.pdf, label="the Binary")
        decide(info, policy, label="the Binary")
    except InvalidCdaInputs as exc:
        problems.extend(exc.problems)
    if inputs is not None:
        problems.extend(check_inputs(inputs, pdf=False))
    raise_if_any(problems)
    assert inputs is not None and info is not None
    preparation = prepare_pdf(resources.pdf, policy, timestamp=inputs.document.effective_time, info=info,
                              converter=converter, label="the Binary")
    return PreparedCda(replace(inputs, pdf=preparation.pdf_to_embed(resources.pdf)), preparation)


def build_prepared_cda(resources: RequestResources, settings: Settings) -> tuple[bytes, PdfPreparation, int, int]:
    """The CDA bytes, the PDF/A decision to record with the delivery, and the lengths of the CDA
    before and after the PDF's base64 text (`cda.builder.build_cda_with_layout`)."""
    prepared = prepare_cda_inputs(resources, settings)
    cda, head, tail = build_cda_with_layout(prepared.inputs)
    return cda, prepared.pdf, head, tail


def build_cda_for_resources(resources: RequestResources, settings: Settings) -> bytes:
    """The CDA for `dmp-gateway cda CommunicationRequest/ID`; raises `InvalidCdaInputs` listing every problem."""
    return build_prepared_cda(resources, settings)[0]


def write_cda_for_resources(resources: RequestResources, settings: Settings, out: BinaryIO) -> PdfPreparation:
    """Stream the CDA into `out` (bounded memory for large PDFs); returns the PDF/A decision."""
    prepared = prepare_cda_inputs(resources, settings)
    write_cda(prepared.inputs, out)
    return prepared.pdf


def _label(resource: Resource | None, fallback: str) -> str:
    resource = _dict(resource)
    kind, rid = resource.get("resourceType") or fallback, resource.get("id")
    return f"{kind}/{rid}" if rid else f"the {kind}"


# A wrong JSON shape must end as a problem, never a crash: these read anything unexpected as empty.
def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _strs(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str) and v] if isinstance(value, list) else []


def _codings(concept: Any) -> list[dict[str, Any]]:
    return _dicts(_dict(concept).get("coding"))


def _system_oid(system: Any) -> str | None:
    system = _str(system)
    if system.startswith("urn:oid:") and is_oid(system[8:]):
        return system[8:]
    return _SYSTEM_OIDS.get(system)


def _from_valueset(concept: Any, valueset: valuesets.ValueSet) -> tuple[Code | None, str | None]:
    """The first coding whose code is in the value set, else (None, the first code seen)."""
    codes = [_str(c.get("code")) for c in _codings(concept)]
    for code in codes:
        if code in valueset:
            return valueset.concepts[code], None
    return None, next((c for c in codes if c), None)


def _pick_name(resource: Resource, use: str = "official") -> dict[str, Any]:
    names = _dicts(resource.get("name"))
    return next((n for n in names if n.get("use") == use), names[0] if names else {})


def _type_codes(identifier: dict[str, Any]) -> set[str]:
    return {_str(c.get("code")) for c in _codings(identifier.get("type"))}


class _Mapper:
    """One pass over the resources; problems accumulate instead of raising."""

    def __init__(self, resources: RequestResources, settings: Settings, problems: list[Problem]):
        self.r, self.settings, self.problems = resources, settings, problems

    def add(self, code: str, text: str) -> None:
        self.problems.append(Problem(code, text))

    def inputs(self) -> CdaInputs | None:
        patient = self.patient(_dict(self.r.patient))
        sender = _dict(self.r.sender)
        author: HealthProfessional | AuthoringDevice | None = None
        author_org: Organization | None = None
        if sender.get("resourceType") == "Practitioner":
            author, author_org = self.professional(sender), self.organization(self.r.requester, "requester")
        elif sender.get("resourceType") == "Organization":
            author_org = self.organization(sender, "sender")
            author = self.device(author_org)
        else:
            self.add("sender-invalid", f"the sender {_label(sender, 'resource')} is neither a Practitioner nor "
                                       f"an Organization")
        custodian = self.organization(self.r.custodian, "custodian") if self.r.custodian else author_org
        legal = self.legal_authenticator(author)
        document = self.document(_dict(self.r.document_reference))
        if (patient is None or author is None or author_org is None or custodian is None or legal is None
                or document is None):
            return None
        return CdaInputs(document=document, patient=patient, author=author, author_organization=author_org,
                         custodian=custodian, legal_authenticator=legal, pdf=self.r.pdf)

    def patient(self, resource: Resource) -> PatientIdentity | None:
        label = _label(resource, "Patient")
        ins = self.ins(resource, label)  # the DMP files documents by INS: without one, nothing else matters
        birth_date = parse_iso(resource.get("birthDate"))
        if birth_date is None or isinstance(birth_date, datetime):
            self.add("birth-date-invalid", f"{label}: birthDate is missing or not a full date (YYYY-MM-DD)")
        if ins is None or birth_date is None or isinstance(birth_date, datetime):
            return None
        gender = _GENDERS.get(_str(resource.get("gender"))) or nir_traits.gender_from_nir(ins)
        if gender is None and resource.get("gender") in ("other", "unknown"):
            gender = Gender.UNKNOWN
        name, usual = _pick_name(resource), _pick_name(resource, "usual")
        used_family = _str(usual.get("family")) if usual.get("family") != name.get("family") else ""
        order = resource.get("multipleBirthInteger")
        return PatientIdentity(
            ins=ins, birth_family_name=_str(name.get("family")), birth_given_names=tuple(_strs(name.get("given"))),
            birth_date=birth_date, gender=gender, local_id=self.local_id(resource), label=label,
            birth_place_code=self.birth_place(resource) or nir_traits.birth_place_from_nir(ins),
            multiple_birth_order=order if isinstance(order, int) and not isinstance(order, bool) else None,
            used_family_name=used_family or None,
            used_given_name=(_strs(usual.get("given")) or [None])[0] if used_family else None)

    def ins(self, resource: Resource, label: str) -> ins_leaf.Ins | None:
        return _patient_ins(resource, self.settings, label, self.add)


    @staticmethod
    def birth_place(resource: Resource) -> str | None:
        for extension in _dicts(resource.get("extension")):
            if extension.get("url") == BIRTH_PLACE_EXTENSION:
                district = _str(_dict(extension.get("valueAddress")).get("district")).strip().upper()
                if district:
                    return district
        return None

    @staticmethod
    def local_id(resource: Resource) -> InstanceId | None:
        """The first identifier under an establishment OID that is not an INS authority: the IPP."""
        for identifier in _dicts(resource.get("identifier")):
            system, value = _str(identifier.get("system")), _str(identifier.get("value")).strip()
            root = system[8:] if system.startswith("urn:oid:") else ""
            if is_oid(root) and root not in ins_leaf.INS_OIDS and value:
                return InstanceId(root, value)
        return None

    def professional(self, resource: Resource) -> HealthProfessional | None:
        label = _label(resource, "Practitioner")
        if resource.get("resourceType") != "Practitioner":
            self.add("practitioner-invalid", f"{label} is not a Practitioner")
            return None
        rpps = [i for i in _dicts(resource.get("identifier"))
                if i.get("system") in RPPS_SYSTEMS or _type_codes(i) & {"RPPS", "IDNPS"}]
        if not rpps:
            self.add("rpps-missing", f"{label} has no RPPS identifier (system {RPPS_SYSTEMS[-1]})")
            return None
        national_id = ps_national_id_from_rpps(str(rpps[0].get("value") or ""))
        if national_id is None:
            self.add("rpps-invalid", f"{label}: the RPPS identifier is not 11 digits")
            return None
        name = _pick_name(resource)
        specialty = next((code for q in _dicts(resource.get("qualification"))
                          if (code := _from_valueset(q.get("code"), valuesets.specialties())[0])), None)
        return HealthProfessional(national_id=national_id, family_name=_str(name.get("family")), label=label,
                                  given_name=" ".join(_strs(name.get("given"))) or None, specialty=specialty)

    def organization(self, resource: Resource | None, role: str) -> Organization | None:
        resource, label = _dict(resource), _label(resource, "Organization")
        if resource.get("resourceType") != "Organization":
            self.add("organization-invalid", f"the {role} {label} is not an Organization")
            return None
        national_id = None
        for identifier in _dicts(resource.get("identifier")):
            system, value, types = identifier.get("system"), str(identifier.get("value") or ""), _type_codes(identifier)
            if (kind := next((_STRUCTURE_TYPES[t] for t in types if t in _STRUCTURE_TYPES), None)) is not None:
                national_id = structure_national_id(kind, value)
            elif system in FINESS_SYSTEMS or "IDNST" in types:  # idNatSt: prefixed already, or a raw number
                national_id = normalize_structure_id(value)
            elif system in SIRET_SYSTEMS:
                national_id = structure_national_id(StructureKind.SIRET, value)
            if national_id:
                break
        if not national_id:
            self.add("structure-id-missing", f"{label} has no valid FINESS or SIRET identifier")
            return None
        return Organization(national_id=national_id, name=_str(resource.get("name")), label=label)

    def device(self, organization: Organization | None) -> AuthoringDevice | None:
        if organization is None:
            return None
        name = self.settings.lps_name
        return AuthoringDevice(system_id=system_national_id(organization.national_id, name) or "",
                               model_name=name, software_name=f"{name} {self.settings.lps_version}",
                               label=f"the gateway's software author for {organization.label}")

    def legal_authenticator(self, author: HealthProfessional | AuthoringDevice | None) -> HealthProfessional | None:
        docref = _dict(self.r.document_reference)
        label = _label(docref, "DocumentReference")
        if self.r.authenticator is not None:
            return self.professional(_dict(self.r.authenticator))
        if _dict(docref.get("authenticator")).get("reference"):
            self.add("authenticator-missing", f"{label} names an authenticator that was not provided")
        elif isinstance(author, HealthProfessional):
            return author
        elif author is not None:
            self.add("legal-authenticator-missing", f"{label} has no authenticator: a document sent by an "
                                                    f"Organization needs a Practitioner to sign it")
        return None

    def document(self, docref: Resource) -> DocumentMetadata | None:
        label = _label(docref, "DocumentReference")
        type_code, seen = _from_valueset(docref.get("type"), valuesets.type_codes())
        if type_code is None:
            self.add("type-code-unknown" if seen else "type-missing",
                     f"{label}: type {seen!r} is not in the DMP document type value set (JDV_J07)" if seen
                     else f"{label} has no type (a LOINC code of the DMP value set JDV_J07)")
        path = "created" if docref.get("created") is not None else "indexed"
        created = self.time(docref.get(path), label, path) if docref.get(path) is not None else self.r.received_at
        if created is None and docref.get(path) is None:
            self.add("created-missing", f"{label} has no creation date (created) and no receipt time is known")
        context = _dict(docref.get("context"))
        period = _dict(context.get("period"))
        start = self.time(period.get("start"), label, "context.period.start") or created
        end = self.time(period.get("end"), label, "context.period.end")
        facility = self.context_code(context.get("facilityType"), valuesets.facility_types(),
                                     self.r.defaults.facility_type, label, "facility-type", "context.facilityType")
        setting = self.context_code(context.get("practiceSetting"), valuesets.practice_settings(),
                                    self.r.defaults.practice_setting, label, "practice-setting",
                                    "context.practiceSetting")
        replaces = [r for r in _dicts(docref.get("relatesTo")) if r.get("code") == "replaces"]
        if replaces and self.r.replaced_unique_id is None:
            self.add("replaced-id-missing", f"{label} replaces another document whose DMP unique id is unknown")
        confidentiality = self.confidentiality(docref, label)
        if type_code is None or created is None or start is None or facility is None or setting is None:
            return None
        return DocumentMetadata(
            unique_id=self.r.unique_id, set_id=self.r.set_id, type_code=type_code, label=label,
            title=_str(docref.get("description")).strip() or type_code.display_name,
            effective_time=created, service_start=start, service_end=end, facility_type=facility,
            practice_setting=setting, service_code=self.event_code(context), confidentiality=confidentiality,
            version_number=self.r.version_number, replaced_unique_id=self.r.replaced_unique_id if replaces else None)

    def time(self, value: object, label: str, path: str) -> Timestamp | None:
        parsed = parse_iso(value)
        if parsed is None and value is not None:
            self.add("date-invalid", f"{label}: {path} is not a full date or a date-time with its UTC offset")
        return parsed

    def context_code(self, concept: Any, valueset: valuesets.ValueSet, default: str | None, label: str,
                     code: str, path: str) -> Code | None:
        found, seen = _from_valueset(concept, valueset)
        if found is None and seen is None and default is not None:
            found = valueset.get(default)
        if found is None:
            self.add(f"{code}-unknown" if seen else f"{code}-missing",
                     f"{label}: {path} {seen!r} is not in {valueset.name}" if seen
                     else f"{label} has no {path} (a code of {valueset.name}) and no default is configured")
        return found

    @staticmethod
    def event_code(context: dict[str, Any]) -> Code | None:
        for event in _dicts(context.get("event"))[:1]:
            for coding in _codings(event):
                oid, code, display = _system_oid(coding.get("system")), _str(coding.get("code")), _str(coding.get("display"))
                if oid and code and display:
                    return Code(code, oid, display)
        return None

    def confidentiality(self, docref: Resource, label: str) -> str:
        for concept in _dicts(docref.get("securityLabel")):
            for coding in _codings(concept):
                code = _str(coding.get("code"))
                if code in valuesets.confidentialities():
                    return code
                if _system_oid(coding.get("system")) == "2.16.840.1.113883.5.25":
                    self.add("confidentiality-invalid", f"{label}: securityLabel {code!r} must be N, R or V for the DMP")
        return "N"


def patient_ins(patient: Resource, settings: Settings) -> ins_leaf.Ins:
    """The patient's INS exactly as the CDA and XDS carry it (NIA-aware OID); InvalidCdaInputs otherwise."""
    problems: list[Problem] = []
    ins = _patient_ins(patient, settings, f"Patient/{patient.get('id')}",
                       lambda code, text: problems.append(Problem(code, text)))
    raise_if_any(problems)
    assert ins is not None
    return ins


def _patient_ins(resource: Resource, settings: Settings, label: str, add: Any) -> ins_leaf.Ins | None:
    for identifier in _dicts(resource.get("identifier")):
        system = identifier.get("system")
        if system in ins_leaf.INS_SYSTEMS:
            nia = "INS-NIA" in _type_codes(identifier)
            oid = ins_leaf.oid_for(system, settings.ins_environment, nia=nia)
            try:
                return ins_leaf.Ins.parse(_str(identifier.get("value")), oid)
            except ins_leaf.InvalidIns as exc:
                add("ins-invalid", f"{label}: the NIR/NIA identifier is invalid ({exc})")
                return None
    add("ins-missing", f"{label} has no NIR/NIA identifier (system {ins_leaf.SEED_NIR_SYSTEM})")
    return None
