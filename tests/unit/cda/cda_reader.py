"""Reads a built CDA back into plain values, so tests compare fields instead of strings."""

from __future__ import annotations

import base64
from typing import Any

from lxml import etree

NS = {"h": "urn:hl7-org:v3", "sdtc": "urn:hl7-org:sdtc"}


def parse(cda: bytes) -> etree._Element:
    return etree.fromstring(cda, etree.XMLParser(huge_tree=True, resolve_entities=False, no_network=True))


def first(root: etree._Element, path: str) -> Any:
    found = root.xpath(path, namespaces=NS)
    return found[0] if found else None


def read_header(cda: bytes) -> dict[str, Any]:
    """The header values the builder writes, keyed by a short name."""
    root = parse(cda)
    patient = "h:recordTarget/h:patientRole/h:patient"
    values = {
        "template_ids": root.xpath("h:templateId/@root", namespaces=NS),
        "unique_id": first(root, "h:id/@root"),
        "type_code": first(root, "h:code/@code"),
        "title": first(root, "h:title/text()"),
        "effective_time": first(root, "h:effectiveTime/@value"),
        "confidentiality": first(root, "h:confidentialityCode/@code"),
        "set_id": first(root, "h:setId/@root"),
        "version": first(root, "h:versionNumber/@value"),
        "patient_ids": [(i.get("root"), i.get("extension"))
                        for i in root.xpath("h:recordTarget/h:patientRole/h:id", namespaces=NS)],
        "family_br": first(root, f"{patient}/h:name/h:family[@qualifier='BR']/text()"),
        "given_list": first(root, f"{patient}/h:name/h:given[not(@qualifier)]/text()"),
        "given_br": first(root, f"{patient}/h:name/h:given[@qualifier='BR']/text()"),
        "family_cl": first(root, f"{patient}/h:name/h:family[@qualifier='CL']/text()"),
        "gender": first(root, f"{patient}/h:administrativeGenderCode/@code"),
        "birth_time": first(root, f"{patient}/h:birthTime/@value"),
        "birth_place": first(root, f"{patient}/h:birthplace/h:place/h:addr/h:county/text()"),
        "birth_order": first(root, f"{patient}/sdtc:multipleBirthOrderNumber/@value"),
        "author_id": first(root, "h:author/h:assignedAuthor/h:id/@extension"),
        "author_family": first(root, "h:author/h:assignedAuthor/h:assignedPerson/h:name/h:family/text()"),
        "author_given": first(root, "h:author/h:assignedAuthor/h:assignedPerson/h:name/h:given/text()"),
        "author_software": first(root, "h:author/h:assignedAuthor/h:assignedAuthoringDevice/h:softwareName/text()"),
        "author_org_id": first(root, "h:author/h:assignedAuthor/h:representedOrganization/h:id/@extension"),
        "author_org_name": first(root, "h:author/h:assignedAuthor/h:representedOrganization/h:name/text()"),
        "custodian_id": first(root, "h:custodian//h:representedCustodianOrganization/h:id/@extension"),
        "custodian_name": first(root, "h:custodian//h:representedCustodianOrganization/h:name/text()"),
        "legal_id": first(root, "h:legalAuthenticator/h:assignedEntity/h:id/@extension"),
        "service_low": first(root, "h:documentationOf/h:serviceEvent/h:effectiveTime/h:low/@value"),
        "service_high": first(root, "h:documentationOf/h:serviceEvent/h:effectiveTime/h:high/@value"),
        "practice_setting": first(root, "h:documentationOf//h:standardIndustryClassCode/@code"),
        "facility_type": first(root, "h:componentOf//h:healthCareFacility/h:code/@code"),
        "encounter_practice_setting": first(root, "h:componentOf//h:responsibleParty//h:standardIndustryClassCode/@code"),
        "encounter_responsible": first(root, "h:componentOf//h:responsibleParty/h:assignedEntity/h:id/@extension"),
        "replaced_id": first(root, "h:relatedDocument[@typeCode='RPLC']/h:parentDocument/h:id/@root"),
    }
    text = first(root, "h:component/h:nonXMLBody/h:text")
    values["media_type"] = text.get("mediaType")
    values["pdf"] = base64.b64decode(text.text or "")
    return values
