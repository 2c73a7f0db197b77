"""documentationOf, relatedDocument and componentOf: the act, the replaced version, the encounter.

Rules (cda-structuration-minimale.md §4): the first serviceEvent needs an effectiveTime and exactly one
PRF performer whose representedOrganization carries the practice setting (JDV_J04); the encounter needs
an effectiveTime and location/healthCareFacility/code (JDV_J02); its optional responsibleParty repeats the
practice setting; RPLC points at the replaced document id.
"""

from __future__ import annotations

from dmp_gateway.cda.elements import Element, coded, ii, interval, sub
from dmp_gateway.cda.inputs import DocumentMetadata, HealthProfessional, Organization
from dmp_gateway.cda.participants import assigned_entity


def documentation_of(parent: Element, doc: DocumentMetadata, performer: HealthProfessional,
                     organization: Organization) -> Element:
    """documentationOf/serviceEvent: the main act, its period and who performed it where."""
    element = sub(parent, "documentationOf")
    event = sub(element, "serviceEvent")
    if doc.service_code is not None:
        coded(event, "code", doc.service_code)
    interval(event, "effectiveTime", doc.service_start, doc.service_end)
    assigned_entity(sub(event, "performer", typeCode="PRF"), performer, organization, doc.practice_setting)
    return element


def related_document(parent: Element, replaced_unique_id: str) -> Element:
    """relatedDocument RPLC: this document is a new version of `replaced_unique_id`."""
    element = sub(parent, "relatedDocument", typeCode="RPLC")
    ii(sub(element, "parentDocument"), "id", replaced_unique_id)
    return element


def component_of(parent: Element, doc: DocumentMetadata, responsible: HealthProfessional,
                 organization: Organization) -> Element:
    """componentOf/encompassingEncounter: the care episode's period, the professional responsible for it
    with the practice setting of the organization, and the facility type."""
    element = sub(parent, "componentOf")
    encounter = sub(element, "encompassingEncounter")
    interval(encounter, "effectiveTime", doc.service_start, doc.service_end)
    assigned_entity(sub(encounter, "responsibleParty"), responsible, organization, doc.practice_setting)
    facility = sub(sub(encounter, "location"), "healthCareFacility")
    coded(facility, "code", doc.facility_type)
    return element
