"""author, custodian and legalAuthenticator (cda-structuration-minimale.md §4; CI-SISAuthor,
CI-SISCustodian, CI-SISLegalAuthenticator).

Professionals are identified under 1.2.250.1.71.4.2.1 (PS_IdNat), structures under 1.2.250.1.71.4.2.2
(Struct_IdNat). Names carry at most one `given` and one `family` in these roles.
"""

from __future__ import annotations

from dmp_gateway.cda.elements import Element, coded, ii, sub, text, ts
from dmp_gateway.cda.inputs import CdaInputs, Code, HealthProfessional, Organization, Timestamp
from dmp_gateway.cda.ns import PS_ROOT, STRUCTURE_ROOT


def author(parent: Element, inputs: CdaInputs) -> Element:
    """author: a health professional (assignedPerson) or a software (assignedAuthoringDevice)."""
    element = sub(parent, "author")
    ts(element, "time", inputs.document.effective_time)
    assigned = sub(element, "assignedAuthor")
    who = inputs.author
    if isinstance(who, HealthProfessional):
        ii(assigned, "id", PS_ROOT, who.national_id)
        if who.specialty is not None:
            coded(assigned, "code", who.specialty)
        person_name(sub(assigned, "assignedPerson"), who)
    else:
        ii(assigned, "id", PS_ROOT, who.system_id)
        device = sub(assigned, "assignedAuthoringDevice")
        text(device, "manufacturerModelName", who.model_name)
        text(device, "softwareName", who.software_name)
    organization(assigned, "representedOrganization", inputs.author_organization)
    return element


def custodian(parent: Element, org: Organization) -> Element:
    """custodian/assignedCustodian/representedCustodianOrganization with its id and name."""
    element = sub(parent, "custodian")
    organization(sub(element, "assignedCustodian"), "representedCustodianOrganization", org)
    return element


def legal_authenticator(parent: Element, person: HealthProfessional, time: Timestamp) -> Element:
    """legalAuthenticator with signatureCode S (the document is signed by this professional)."""
    element = sub(parent, "legalAuthenticator")
    ts(element, "time", time)
    sub(element, "signatureCode", code="S")
    assigned_entity(element, person)
    return element


def assigned_entity(parent: Element, person: HealthProfessional, org: Organization | None = None,
                    practice_setting: Code | None = None) -> Element:
    """assignedEntity: PS id, name, and optionally the organization with its practice setting."""
    entity = sub(parent, "assignedEntity")
    ii(entity, "id", PS_ROOT, person.national_id)
    person_name(sub(entity, "assignedPerson"), person)
    if org is not None:
        organization(entity, "representedOrganization", org, practice_setting)
    return entity


def person_name(parent: Element, person: HealthProfessional) -> Element:
    """name with one given (when known) and one family."""
    name = sub(parent, "name")
    if person.given_name:
        text(name, "given", person.given_name)
    text(name, "family", person.family_name)
    return name


def organization(parent: Element, local: str, org: Organization, practice_setting: Code | None = None) -> Element:
    """An organization: Struct_IdNat id, name, and standardIndustryClassCode when given."""
    element = sub(parent, local)
    ii(element, "id", STRUCTURE_ROOT, org.national_id)
    text(element, "name", org.name)
    if practice_setting is not None:
        coded(element, "standardIndustryClassCode", practice_setting)
    return element
