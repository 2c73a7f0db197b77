"""The CDA R2 header facts XDS metadata is derived from, read without parsing the (huge) body.

`read_cda_header` streams the CDA with `iterparse` and stops at the body's first element, so a
CDA wrapping a 50 MB PDF costs a few kilobytes of parsing. What is read follows the ANS mapping
"Lien entre en-tête CDA et métadonnées XDS" as summarised in xds-metadata.md §3.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from lxml import etree

from dmp_gateway.dmp.errors import InvalidSubmission
from dmp_gateway.dmp.namespaces import HL7, hl7_xpath, qname
from dmp_gateway.dmp.types import Code
from dmp_gateway.ins import INS_OIDS, OID_NIR_PROD


@dataclass(frozen=True, slots=True)
class Identifier:
    """An HL7 II: root OID and optional extension."""

    root: str
    extension: str | None = None


@dataclass(frozen=True, slots=True)
class Person:
    """A named person (or device) with its identifier, as XCN needs it."""

    id: Identifier
    family: str = ""
    given: str = ""
    #: True for an `assignedAuthoringDevice` (XCN of a system, xds-metadata.md §6).
    device: bool = False


@dataclass(frozen=True, slots=True)
class Organization:
    id: Identifier
    name: str


@dataclass(frozen=True, slots=True)
class Author:
    """One `author/assignedAuthor` (XDS author: person, institution, role, specialty)."""

    person: Person
    institution: Organization | None = None
    #: author/functionCode (authorRole), when present.
    role: Code | None = None
    #: assignedAuthor/code (authorSpecialty, JDV_J01), when present.
    specialty: Code | None = None


@dataclass(frozen=True, slots=True)
class CdaHeader:
    """Everything ITI-41 metadata needs from a CDA header (xds-metadata.md §3)."""

    document_id: Identifier
    type_code: Code
    title: str
    #: effectiveTime/@value as written (TS, maybe with a UTC offset).
    effective_time: str
    confidentiality: Code
    language_code: str
    patient_ids: tuple[Identifier, ...]
    authors: tuple[Author, ...]
    legal_authenticator: Person | None
    service_start: str | None
    service_stop: str | None
    healthcare_facility_type: Code | None
    practice_setting: Code | None
    #: nonXMLBody/text/@mediaType (None for a structured body).
    body_media_type: str | None
    patient_family: str = ""
    patient_given: str = ""
    patient_birth_time: str | None = None
    patient_gender: str | None = None
    set_id: Identifier | None = None
    version_number: str | None = None
    #: relatedDocument[@typeCode="RPLC"]/parentDocument/id.
    replaces: Identifier | None = None

    @property
    def unique_id(self) -> str:
        """XDSDocumentEntry.uniqueId: the id root, or `root^extension` (IHE ITI TF-3 §4.2.3.2.26)."""
        if self.document_id.extension:
            return f"{self.document_id.root}^{self.document_id.extension}"
        return self.document_id.root

    def ins_identifier(self) -> Identifier | None:
        return next((i for i in self.patient_ids if i.root in INS_OIDS or i.root == OID_NIR_PROD), None)

    def local_patient_identifier(self) -> Identifier | None:
        """The producer's IPP: a patientRole/id that is not an INS."""
        return next((i for i in self.patient_ids if i.root not in INS_OIDS and i.extension), None)


def _stop_reading(cda: bytes) -> etree._Element:
    """Parse up to the body's first element and return the (partial) ClinicalDocument root."""
    events = etree.iterparse(
        io.BytesIO(cda), events=("start",), resolve_entities=False, no_network=True, huge_tree=True,
        remove_comments=True,
    )
    root = None
    body_tags = {qname(HL7, "text"), qname(HL7, "structuredBody")}
    try:
        for _, element in events:
            if root is None:
                root = element
                if element.tag != qname(HL7, "ClinicalDocument"):
                    raise InvalidSubmission("the document is not a CDA R2 ClinicalDocument", code="CDA_NOT_CDA",
                                            context=str(element.tag))
            elif element.tag in body_tags and element.getparent() is not None and (
                element.getparent().tag in (qname(HL7, "nonXMLBody"), qname(HL7, "component"))
            ):
                break
    except etree.XMLSyntaxError as exc:
        raise InvalidSubmission(f"the CDA is not well-formed XML: {exc}", code="CDA_NOT_XML") from exc
    if root is None:
        raise InvalidSubmission("the CDA is empty", code="CDA_NOT_XML")
    return root


def _text(node: etree._Element, path: str) -> str | None:
    found = hl7_xpath(path)(node)
    if not found:
        return None
    value = found[0] if isinstance(found[0], str) else "".join(found[0].itertext())
    value = " ".join(str(value).split())
    return value or None


def _identifier(node: etree._Element | None) -> Identifier | None:
    if node is None or not node.get("root"):
        return None
    return Identifier(node.get("root"), node.get("extension") or None)


def _code(node: etree._Element | None) -> Code | None:
    if node is None or not node.get("code"):
        return None
    return Code(node.get("code"), node.get("codeSystem", ""), node.get("displayName", ""))


def _one(node: etree._Element, path: str) -> etree._Element | None:
    found = hl7_xpath(path)(node)
    return found[0] if found else None


def _person(entity: etree._Element) -> Person | None:
    identifier = _identifier(_one(entity, "h:id"))
    if identifier is None:
        return None
    device = _one(entity, "h:assignedAuthoringDevice")
    if device is not None:
        return Person(identifier, _text(device, "h:softwareName") or "",
                      _text(device, "h:manufacturerModelName") or "", device=True)
    name = _one(entity, "h:assignedPerson/h:name")
    if name is None:
        return Person(identifier)
    return Person(identifier, _text(name, "h:family") or "", _text(name, "h:given") or "")


def _author(node: etree._Element) -> Author | None:
    assigned = _one(node, "h:assignedAuthor")
    person = _person(assigned) if assigned is not None else None
    if person is None:
        return None
    organization = _one(assigned, "h:representedOrganization")
    institution = None
    if organization is not None:
        org_id = _identifier(_one(organization, "h:id"))
        org_name = _text(organization, "h:name")
        if org_id is not None and org_name:
            institution = Organization(org_id, org_name)
    return Author(person, institution, _code(_one(node, "h:functionCode")), _code(_one(assigned, "h:code")))


def read_cda_header(cda: bytes) -> CdaHeader:
    """Read the XDS-relevant header of a CDA; raises `InvalidSubmission` naming the missing element."""
    root = _stop_reading(cda)

    def required(value, element: str):
        if value is None or value == "":
            raise InvalidSubmission(f"CDA header lacks {element}", code="CDA_HEADER_INCOMPLETE", location=element)
        return value

    document_id = required(_identifier(_one(root, "h:id")), "ClinicalDocument/id/@root")
    event = _one(root, "h:documentationOf/h:serviceEvent")
    patient = _one(root, "h:recordTarget/h:patientRole/h:patient")
    related = _one(root, "h:relatedDocument[@typeCode='RPLC']/h:parentDocument/h:id")
    legal = _one(root, "h:legalAuthenticator/h:assignedEntity")
    body_text = _one(root, "h:component/h:nonXMLBody/h:text")
    return CdaHeader(
        document_id=document_id,
        type_code=required(_code(_one(root, "h:code")), "ClinicalDocument/code"),
        title=required(_text(root, "h:title"), "ClinicalDocument/title"),
        effective_time=required(_text(root, "h:effectiveTime/@value"), "ClinicalDocument/effectiveTime/@value"),
        confidentiality=required(_code(_one(root, "h:confidentialityCode")), "ClinicalDocument/confidentialityCode"),
        language_code=required(_text(root, "h:languageCode/@code"), "ClinicalDocument/languageCode/@code"),
        patient_ids=tuple(
            i for i in (_identifier(n) for n in hl7_xpath("h:recordTarget/h:patientRole/h:id")(root)) if i
        ),
        authors=tuple(a for a in (_author(n) for n in hl7_xpath("h:author")(root)) if a),
        legal_authenticator=_person(legal) if legal is not None else None,
        service_start=_text(event, "h:effectiveTime/h:low/@value") if event is not None else None,
        service_stop=_text(event, "h:effectiveTime/h:high/@value") if event is not None else None,
        healthcare_facility_type=_code(_one(root, "h:componentOf/h:encompassingEncounter/h:location/h:healthCareFacility/h:code")),
        practice_setting=_code(_one(root, "h:documentationOf/h:serviceEvent/h:performer/h:assignedEntity/h:representedOrganization/h:standardIndustryClassCode")),
        body_media_type=body_text.get("mediaType") if body_text is not None else None,
        patient_family=(_text(patient, "h:name/h:family") or "") if patient is not None else "",
        patient_given=(_text(patient, "h:name/h:given") or "") if patient is not None else "",
        patient_birth_time=_text(patient, "h:birthTime/@value") if patient is not None else None,
        patient_gender=_text(patient, "h:administrativeGenderCode/@code") if patient is not None else None,
        set_id=_identifier(_one(root, "h:setId")),
        version_number=_text(root, "h:versionNumber/@value"),
        replaces=_identifier(related),
    )


__all__ = ["Author", "CdaHeader", "Identifier", "Organization", "Person", "read_cda_header"]
