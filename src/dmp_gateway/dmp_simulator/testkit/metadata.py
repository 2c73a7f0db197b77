"""ebRIM metadata of a reference submission (xds-metadata.md §1-§8): SubmissionSet, the CDA DocumentEntry,
the signature DocumentEntry, HasMember and signs associations.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from lxml import etree

from dmp_gateway.dmp import namespaces as ns
from dmp_gateway.dmp.namespaces import LCM, RIM, qname

if TYPE_CHECKING:
    from dmp_gateway.dmp_simulator.testkit.messages import Iti41Spec

AUTHOR_PERSON = "899700367909^DOC0036790^KIT^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS"


def _slot(parent: etree._Element, name: str, *values: str) -> etree._Element:
    slot = etree.SubElement(parent, qname(RIM, "Slot"), name=name)
    value_list = etree.SubElement(slot, qname(RIM, "ValueList"))
    for value in values:
        etree.SubElement(value_list, qname(RIM, "Value")).text = value
    return slot


def _name(parent: etree._Element, text: str, tag: str = "Name") -> None:
    etree.SubElement(etree.SubElement(parent, qname(RIM, tag)), qname(RIM, "LocalizedString"), value=text)


def _code(parent: etree._Element, scheme: str, code: str, coding: str, display: str) -> etree._Element:
    classification = etree.SubElement(
        parent, qname(RIM, "Classification"), classificationScheme=scheme, classifiedObject=parent.get("id"),
        id=f"cl-{scheme[9:17]}-{len(parent)}", nodeRepresentation=code,
    )
    _slot(classification, "codingScheme", coding)
    _name(classification, display)
    return classification


def _author(parent: etree._Element, scheme: str, structure_id: str) -> None:
    classification = etree.SubElement(
        parent, qname(RIM, "Classification"), classificationScheme=scheme, classifiedObject=parent.get("id"),
        id=f"author-{parent.get('id')}", nodeRepresentation="",
    )
    _slot(classification, "authorPerson", AUTHOR_PERSON)
    _slot(classification, "authorInstitution", f"CH DE TEST^^^^^&1.2.250.1.71.4.2.2&ISO^IDNST^^^{structure_id}")


def _identifier(parent: etree._Element, scheme: str, value: str) -> None:
    identifier = etree.SubElement(
        parent, qname(RIM, "ExternalIdentifier"), id=f"ei-{scheme[9:17]}-{parent.get('id')}",
        identificationScheme=scheme, registryObject=parent.get("id"), value=value,
    )
    _name(identifier, ns.EXTERNAL_IDENTIFIER_NAMES[scheme])


def submission_set(spec: "Iti41Spec") -> etree._Element:
    package = etree.Element(qname(RIM, "RegistryPackage"), id="SubmissionSet01")
    _slot(package, "submissionTime", spec.now.strftime("%Y%m%d%H%M%S"))
    _name(package, "Lot de soumission")
    _author(package, ns.SS_AUTHOR, spec.structure_id)
    _code(package, ns.SS_CONTENT_TYPE_CODE, "04", "1.2.250.1.213.2.2", "Hospitalisation de jour")
    etree.SubElement(
        package, qname(RIM, "Classification"), classificationNode=ns.SS_CLASSIFICATION_NODE,
        classifiedObject="SubmissionSet01", id="cl-ss-node",
    )
    _identifier(package, ns.SS_PATIENT_ID, spec.ins_cx)
    _identifier(package, ns.SS_SOURCE_ID, "1.2.250.1.999.1.1.4242")
    _identifier(package, ns.SS_UNIQUE_ID, spec.submission_set_uid)
    return package


def _entry(spec: "Iti41Spec", entry_id: str, content: bytes, *, signature: bool) -> etree._Element:
    entry = etree.Element(qname(RIM, "ExtrinsicObject"), id=entry_id, mimeType="text/xml", objectType=ns.DE_OBJECT_TYPE)
    stamp = spec.now.strftime("%Y%m%d%H%M%S")
    _slot(entry, "hash", hashlib.sha1(content).hexdigest().upper())
    _slot(entry, "size", str(len(content)))
    _slot(entry, "creationTime", stamp)
    _slot(entry, "languageCode", "art" if signature else "fr-FR")
    _slot(entry, "legalAuthenticator", AUTHOR_PERSON)
    _slot(entry, "serviceStartTime", stamp if signature else "20210104092200")
    _slot(entry, "serviceStopTime", stamp if signature else "20210104160500")
    _slot(entry, "sourcePatientId", spec.ins_cx)
    if not signature:
        _slot(entry, "sourcePatientInfo", "PID-5|PAT-TROIS^Dominique^^^^^L", "PID-7|19790328", "PID-8|F")
    _name(entry, "Source" if signature else "Compte rendu d'examens biologiques")
    _author(entry, ns.DE_AUTHOR, spec.structure_id)
    if signature:
        _code(entry, ns.DE_CLASS_CODE, "urn:oid:1.3.6.1.4.1.19376.1.2.1.1.1", "URN", "Digital Signature")
        _code(entry, ns.DE_TYPE_CODE, "E1762", "ASTM", "Full Document")
        _code(entry, ns.DE_FORMAT_CODE, "http://www.w3.org/2000/09/xmldsig#", "URN", "Default Signature Style")
        _code(entry, ns.DE_EVENT_CODE, "1.2.840.10065.1.12.1.14", "1.2.840.10065.1.12", "Source")
    else:
        _code(entry, ns.DE_CLASS_CODE, "10", "1.2.250.1.213.1.1.4.1", "Compte rendu")
        _code(entry, ns.DE_TYPE_CODE, "11502-2", "2.16.840.1.113883.6.1", "CR d'examens biologiques")
        _code(entry, ns.DE_FORMAT_CODE, "urn:ihe:iti:xds-sd:pdf:2008", "1.3.6.1.4.1.19376.1.2.3",
              "Document à corps non structuré en Pdf/A-1")
    _code(entry, ns.DE_CONFIDENTIALITY_CODE, "N", "2.16.840.1.113883.5.25", "Normal")
    if signature:
        _code(entry, ns.DE_CONFIDENTIALITY_CODE, "MASQUE_PS", "1.2.250.1.213.1.1.4.13", "Masqué aux professionnels de santé")
        _code(entry, ns.DE_CONFIDENTIALITY_CODE, "INVISIBLE_PATIENT", "1.2.250.1.213.1.1.4.13", "Non visible par le patient")
    _code(entry, ns.DE_HEALTHCARE_FACILITY_TYPE_CODE, "SA07", "1.2.250.1.71.4.2.4", "Cabinet individuel")
    _code(entry, ns.DE_PRACTICE_SETTING_CODE, "AMBULATOIRE", "1.2.250.1.213.1.1.4.9", "Ambulatoire")
    _identifier(entry, ns.DE_PATIENT_ID, spec.ins_cx)
    _identifier(entry, ns.DE_UNIQUE_ID, spec.signature_uid if signature else spec.document_uid)
    return entry


def _association(parent: etree._Element, type_: str, source: str, target: str, *, original: bool) -> None:
    association = etree.SubElement(
        parent, qname(RIM, "Association"), associationType=type_, id=f"as-{source}-{target}",
        sourceObject=source, targetObject=target,
    )
    if original:
        _slot(association, "SubmissionSetStatus", "Original")


def submit_objects(spec: "Iti41Spec", cda: bytes, signature: bytes) -> etree._Element:
    request = etree.Element(qname(LCM, "SubmitObjectsRequest"))
    objects = etree.SubElement(request, qname(RIM, "RegistryObjectList"))
    objects.append(submission_set(spec))
    objects.append(_entry(spec, "Document01", cda, signature=False))
    objects.append(_entry(spec, "Signature01", signature, signature=True))
    _association(objects, ns.ASSOC_HAS_MEMBER, "SubmissionSet01", "Document01", original=True)
    _association(objects, ns.ASSOC_HAS_MEMBER, "SubmissionSet01", "Signature01", original=True)
    _association(objects, ns.ASSOC_SIGNS, "Signature01", "SubmissionSet01", original=False)
    return request
