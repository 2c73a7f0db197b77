"""Plain, FHIR-free inputs of the CDA builder.

Whoever calls `cda.build_cda` (the FHIR mapper `fhir/cda_mapping.py`, a test, a benchmark) fills these
dataclasses; the builder never sees a FHIR resource. Each `label` only serves error messages: it names
where the value came from (e.g. ``"Practitioner/12"``) so that an operator can fix it there.
Rules checked on them: `cda.checks.check_inputs`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Union

from dmp_gateway.ins import Ins

#: A point in time as CDA TS: a full date, or a date-time (with its UTC offset when known).
Timestamp = Union[date, datetime]
#: The PDF: its bytes, or the path of a file read in chunks while the CDA is written.
PdfSource = Union[bytes, os.PathLike[str]]


class Gender(str, Enum):
    """administrativeGenderCode, JDV_J143 (HL7 AdministrativeGender 2.16.840.1.113883.5.1)."""

    FEMALE = "F"
    MALE = "M"
    UNKNOWN = "UN"


@dataclass(frozen=True, slots=True)
class Code:
    """A coded value (CD/CE): code, code system OID and display name, all three required by the rules."""

    code: str
    code_system: str
    display_name: str


@dataclass(frozen=True, slots=True)
class InstanceId:
    """An HL7 II: the OID of the assigning authority and the identifier it assigned."""

    root: str
    extension: str


@dataclass(frozen=True, slots=True)
class PatientIdentity:
    """recordTarget/patientRole: INS traits plus the optional local identifier (IPP)."""

    #: INS (NIR or NIA + its authority OID). None only for a patient known by an IPP alone.
    ins: Ins | None
    #: Birth name (family qualifier BR).
    birth_family_name: str
    #: Birth given names in order; the first one is the given name qualified BR.
    birth_given_names: tuple[str, ...]
    birth_date: date
    #: Required (INS traits rule); `cda.nir_traits.gender_from_nir` derives it when unknown.
    gender: Gender | None
    #: INSEE COG code of the birth place (5 characters, 99xxx abroad); required with an INS.
    birth_place_code: str | None = None
    #: Local patient id (IPP) with the establishment's OID.
    local_id: InstanceId | None = None
    #: Birth rank (sdtc:multipleBirthOrderNumber), 1 for the first born.
    multiple_birth_order: int | None = None
    #: Used name and used given name (qualifier CL), when they differ from the birth ones.
    used_family_name: str | None = None
    used_given_name: str | None = None
    label: str = "the patient"


@dataclass(frozen=True, slots=True)
class Organization:
    """A care structure: Struct_IdNat under root 1.2.250.1.71.4.2.2, and its name."""

    #: Struct_IdNat: "1" + FINESS, "3" + SIRET, ... (xds-metadata.md §6).
    national_id: str
    name: str
    label: str = "the organization"


@dataclass(frozen=True, slots=True)
class HealthProfessional:
    """A person: PS_IdNat under root 1.2.250.1.71.4.2.1 ("8" + RPPS), name, optional specialty (JDV_J01)."""

    national_id: str
    family_name: str
    given_name: str | None = None
    specialty: Code | None = None
    label: str = "the health professional"


@dataclass(frozen=True, slots=True)
class AuthoringDevice:
    """A software author (application token): system id under 1.2.250.1.71.4.2.1, model and name."""

    #: Structure-prefixed id, e.g. "3" + FINESS + "/" + software id (PSIdNat.fsh, prefix 3/4/5).
    system_id: str
    model_name: str
    software_name: str
    label: str = "the authoring software"


Author = Union[HealthProfessional, AuthoringDevice]


@dataclass(frozen=True, slots=True)
class DocumentMetadata:
    """Header values that describe the document itself and its context."""

    #: ClinicalDocument/id/@root = XDS uniqueId; minted once per request (`cda.ids.mint_document_oid`).
    unique_id: str
    #: setId/@root, shared by every version of the document.
    set_id: str
    #: LOINC (or CI-SIS) type code from JDV_J07.
    type_code: Code
    title: str
    #: effectiveTime, also author/time and legalAuthenticator/time.
    effective_time: Timestamp
    #: documentationOf/serviceEvent and encompassingEncounter effectiveTime low/high.
    service_start: Timestamp
    #: healthCareFacility/code, JDV_J02 (TRE_R02 SAxx, or EXP_PATIENT/SNR).
    facility_type: Code
    #: representedOrganization/standardIndustryClassCode, JDV_J04.
    practice_setting: Code
    service_end: Timestamp | None = None
    #: serviceEvent/code (the main act), optional.
    service_code: Code | None = None
    #: N (normal), R (restricted) or V (very restricted).
    confidentiality: str = "N"
    version_number: int = 1
    language: str = "fr-FR"
    #: ClinicalDocument/id of the document this one replaces (relatedDocument RPLC).
    replaced_unique_id: str | None = None
    label: str = "the document"


@dataclass(frozen=True, slots=True)
class CdaInputs:
    """Everything the builder needs; see docs/cda-mapping.md for where each value comes from."""

    document: DocumentMetadata
    patient: PatientIdentity
    author: Author
    #: The author's and the performer's representedOrganization.
    author_organization: Organization
    custodian: Organization
    legal_authenticator: HealthProfessional
    pdf: PdfSource

    @property
    def performer(self) -> HealthProfessional:
        """serviceEvent performer: the author when a person, else the legal authenticator."""
        return self.author if isinstance(self.author, HealthProfessional) else self.legal_authenticator
