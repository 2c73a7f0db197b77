"""Rules on `CdaInputs` that the ANS kit would otherwise reject, checked before any XML is built.

Every rule adds a `Problem` instead of raising, so one `InvalidCdaInputs` lists them all. Sources: the
structuration-minimale schematron (cda-structuration-minimale.md §2-§4), the INS traits rule (§3) and
XML 1.0 §2.2 (characters a document can carry).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from dmp_gateway.cda import nir_traits, valuesets
from dmp_gateway.cda.errors import Problem
from dmp_gateway.cda.ids import is_oid
from dmp_gateway.cda.inputs import (AuthoringDevice, CdaInputs, Code, DocumentMetadata, Gender,
                                    HealthProfessional, Organization, PatientIdentity)
from dmp_gateway.cda.national_ids import structure_kind
from dmp_gateway.cda.timestamps import not_before

#: Characters an XML 1.0 document cannot carry, plus the other C0 controls, which have no place in a
#: name or a title (a tab or newline there is a data-entry accident).
_BAD_CHARS = re.compile("[\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_LANGUAGE = re.compile(r"^[a-z]{2}-[A-Z]{2}$")
_ID_TOKEN = re.compile(r"^[^\s\x00-\x1f\x7f]+$")
_PDF_MAGIC_WINDOW = 1024
_SEX_WORDS = {Gender.MALE: "male", Gender.FEMALE: "female", Gender.UNKNOWN: "unknown", None: "unknown"}

Add = Callable[[str, str], None]


def check_inputs(inputs: CdaInputs, *, pdf: bool = True) -> list[Problem]:
    """Every problem of `inputs`, in the order of the CDA header; an empty list means buildable.

    Texts name the resource and the rule but never echo patient data (they end up in logs and in the
    Communication). `pdf=False` skips the PDF magic check for callers that ran `cda.pdf.inspect_pdf`.
    """
    problems: list[Problem] = []

    def add(code: str, text: str) -> None:
        problems.append(Problem(code, text))

    _check_document(inputs.document, add)
    _check_patient(inputs.patient, inputs.document, add)
    if isinstance(inputs.author, HealthProfessional):
        _check_professional(inputs.author, "author", add)
    else:
        _check_device(inputs.author, add)
    _check_organization(inputs.author_organization, "author's organization", add)
    if inputs.custodian is not inputs.author_organization:  # the same resource is reported once
        _check_organization(inputs.custodian, "custodian", add)
    if inputs.legal_authenticator is not inputs.author:
        _check_professional(inputs.legal_authenticator, "legal authenticator", add)
    if pdf:
        _check_pdf(inputs.pdf, add)
    return problems


def check_text(value: str | None, what: str, label: str, add: Add, *, code: str) -> None:
    """A required text: present, not blank, and only characters a CDA can carry."""
    if value is None or not value.strip():
        add(f"{code}-missing", f"{label}: {what} is missing")
    elif _BAD_CHARS.search(value):
        add(f"{code}-invalid", f"{label}: {what} contains a control character or a character XML cannot carry")


def _check_code(value: Code, valueset: valuesets.ValueSet, what: str, label: str, add: Add, code: str) -> None:
    if not valueset.contains(value):
        add(code, f"{label}: {what} {value.code!r} (code system {value.code_system}) is not in {valueset.name}")


def _check_document(doc: DocumentMetadata, add: Add) -> None:
    label = doc.label
    if not is_oid(doc.unique_id):
        add("document-id-invalid", f"{label}: document id {doc.unique_id!r} is not an OID of at most 64 characters")
    if not is_oid(doc.set_id):
        add("set-id-invalid", f"{label}: set id {doc.set_id!r} is not an OID of at most 64 characters")
    if doc.replaced_unique_id is not None:
        if not is_oid(doc.replaced_unique_id):
            add("replaced-id-invalid",
                f"{label}: the replaced document's id {doc.replaced_unique_id!r} is not an OID")
        elif doc.replaced_unique_id == doc.unique_id:
            add("replaced-id-invalid", f"{label}: a document cannot replace itself (same id {doc.unique_id})")
    if doc.version_number < 1:
        add("version-invalid", f"{label}: version number {doc.version_number} must be 1 or more")
    _check_code(doc.type_code, valuesets.type_codes(), "document type", label, add, "type-code-unknown")
    check_text(doc.title, "the title", label, add, code="title")
    if doc.confidentiality not in valuesets.confidentialities():
        add("confidentiality-invalid",
            f"{label}: confidentiality {doc.confidentiality!r} must be N (normal), R (restricted) or V (very restricted)")
    if not _LANGUAGE.match(doc.language):
        add("language-invalid", f"{label}: language {doc.language!r} must look like fr-FR")
    _check_code(doc.facility_type, valuesets.facility_types(), "facility type", label, add, "facility-type-unknown")
    _check_code(doc.practice_setting, valuesets.practice_settings(), "practice setting", label, add,
                "practice-setting-unknown")
    if doc.service_end is not None and not not_before(doc.service_end, doc.service_start):
        add("service-period-invalid", f"{label}: the service period ends before it starts")
    if doc.service_code is not None:
        svc = doc.service_code
        if not (svc.code.strip() and is_oid(svc.code_system) and svc.display_name.strip()):
            add("service-code-invalid", f"{label}: the service event code needs a code, an OID code system "
                                        f"and a display name (got {svc.code!r}, {svc.code_system!r})")


def _check_patient(patient: PatientIdentity, doc: DocumentMetadata, add: Add) -> None:
    label = patient.label
    if patient.ins is None and patient.local_id is None:
        add("patient-id-missing", f"{label}: the patient has neither an INS (NIR/NIA) nor a local identifier")
    check_text(patient.birth_family_name, "the birth family name", label, add, code="patient-family")
    if not patient.birth_given_names:
        add("patient-given-missing", f"{label}: the birth given names are missing")
    for given in patient.birth_given_names:
        check_text(given, "a birth given name", label, add, code="patient-given")
    for used, what in ((patient.used_family_name, "the used family name"),
                       (patient.used_given_name, "the used given name")):
        if used is not None:
            check_text(used, what, label, add, code="patient-used-name")
    if not not_before(doc.effective_time, patient.birth_date):
        add("birth-date-after-document", f"{label}: the birth date is after the document date")
    if patient.gender is None:
        add("patient-gender-missing", f"{label}: the patient's sex is unknown and the CDA requires it: give the "
                                      f"gender (administrativeGenderCode)")
    if patient.multiple_birth_order is not None and patient.multiple_birth_order < 1:
        add("multiple-birth-invalid", f"{label}: birth rank {patient.multiple_birth_order} must be 1 or more")
    if patient.local_id is not None and not (is_oid(patient.local_id.root)
                                             and _ID_TOKEN.match(patient.local_id.extension)):
        add("ipp-invalid", f"{label}: the local identifier needs an OID system and a value without spaces")
    if patient.birth_place_code is not None and not nir_traits.COG_PATTERN.match(patient.birth_place_code):
        add("birth-place-invalid",
            f"{label}: the birth place is not an INSEE COG code (5 characters, 99xxx abroad)")
    if patient.ins is not None:
        _check_ins_traits(patient, add)


def _check_ins_traits(patient: PatientIdentity, add: Add) -> None:
    """INS traits rule: with an INS root the document needs sex and birth place, and they must agree."""
    assert patient.ins is not None
    if patient.birth_place_code is None:
        add("patient-birth-place-missing",
            f"{patient.label}: the birth place (INSEE code) is required with an INS and is missing")
    if nir_traits.contradicts(patient.ins, patient.gender):
        said = _SEX_WORDS[nir_traits.gender_from_nir(patient.ins)]
        add("nir-sex-mismatch",
            f"{patient.label}: the NIR's first digit {patient.ins.sex_digit} says {said} but the patient's sex "
            f"is {_SEX_WORDS[patient.gender]}; check that the identifier is the patient's own NIR")


def _check_professional(person: HealthProfessional, role: str, add: Add) -> None:
    label = person.label
    if not _ID_TOKEN.match(person.national_id or ""):
        add("ps-id-invalid", f"{label}: the {role}'s national identifier (RPPS) is missing or contains spaces")
    check_text(person.family_name, f"the {role}'s family name", label, add, code="ps-family")
    if person.given_name is not None:
        check_text(person.given_name, f"the {role}'s given name", label, add, code="ps-given")
    if person.specialty is not None:
        _check_code(person.specialty, valuesets.specialties(), f"the {role}'s specialty", label, add,
                    "specialty-unknown")


def _check_device(device: AuthoringDevice, add: Add) -> None:
    if not _ID_TOKEN.match(device.system_id or ""):
        add("device-id-invalid", f"{device.label}: the authoring software's identifier is missing or has spaces")
    check_text(device.model_name, "the authoring software's model", device.label, add, code="device-model")
    check_text(device.software_name, "the authoring software's name", device.label, add, code="device-name")


def _check_organization(org: Organization, role: str, add: Add) -> None:
    if structure_kind(org.national_id or "") is None:
        add("structure-id-invalid", f"{org.label}: the {role}'s national structure id {org.national_id!r} is not "
                                    f"1 + FINESS, 2 + SIREN or 3 + SIRET")
    check_text(org.name, f"the {role}'s name", org.label, add, code="organization-name")


def _check_pdf(pdf: object, add: Add) -> None:
    if isinstance(pdf, (bytes, bytearray, memoryview)):
        head = bytes(pdf[:_PDF_MAGIC_WINDOW])
    else:
        try:
            with open(os.fspath(pdf), "rb") as f:  # type: ignore[arg-type]
                head = f.read(_PDF_MAGIC_WINDOW)
        except (OSError, TypeError):
            add("pdf-missing", "the PDF file cannot be read")
            return
    if b"%PDF-" not in head:
        add("pdf-not-pdf", "the document content is not a PDF (no %PDF- header)")
