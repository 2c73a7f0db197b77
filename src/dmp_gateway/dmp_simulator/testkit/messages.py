"""Valid reference requests built from the specification, one function per transaction.

ITI-41: dmp-interfaces.md §4 (body, MTOM), xds-metadata.md §1-§8 (every DMP-required slot, classification
and identifier, coded from the right value set), the XAdES of §4.4 and the VIHF of §7. The CDA is the ANS
kit's unstructured example with the test's id, patient and body size.
"""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from lxml import etree

from dmp_gateway.dmp import namespaces as ns
from dmp_gateway.dmp.namespaces import HL7, LCM, QUERY, RIM, SAML2, XDSB, XSI, qname
from dmp_gateway.dmp_simulator.testkit.pki import STRUCTURE_ID, Identity, TestPki
from dmp_gateway.dmp_simulator.testkit.signing import build_xades, sign_vihf
from dmp_gateway.dmp_simulator.testkit.soap import SoapMessage, envelope, xop_include
from dmp_gateway.ins import OID_NIR_TEST

BASE_URL = "https://127.0.0.1:9443/si-dmp-server/v2/services"
ROOT_OID = "1.2.250.1.999.1.1.4242"
NOW = datetime(2025, 6, 2, 10, 30, tzinfo=timezone.utc)


def new_oid(kind: int) -> str:
    """A fresh OID under the test root (kind 4 = document, 7 = submission set)."""
    return f"{ROOT_OID}.{kind}.{uuid.uuid4().int % 10**12}"


def _vihf_attributes(ins_cx: str, structure_id: str) -> dict[str, list[object]]:
    role = etree.Element(qname(HL7, "Role"), nsmap={None: HL7, "xsi": XSI}, code="10", codeSystem="1.2.250.1.71.1.2.7", displayName="Médecin")
    role.set(qname(XSI, "type"), "CE")
    purpose = etree.Element(
        qname(HL7, "PurposeOfUse"), nsmap={None: HL7, "xsi": XSI}, code="normal", codeSystem="1.2.250.1.213.1.1.4.248",
        displayName="Accès normal",
    )
    purpose.set(qname(XSI, "type"), "CE")
    return {
        "VIHF_Version": ["3.0"],
        "Identifiant_Structure": [structure_id],
        "Secteur_Activite": ["SA01^1.2.250.1.71.4.2.4"],
        "urn:oasis:names:tc:xspa:1.0:subject:subject-id": ["dmp-gateway automate (service des admissions)"],
        "urn:oasis:names:tc:xacml:2.0:subject:role": [role],
        "urn:oasis:names:tc:xacml:2.0:resource:resource-id": [ins_cx],
        "Ressource_URN": ["urn:dmp"],
        "urn:oasis:names:tc:xspa:1.0:subject:purposeofuse": [purpose],
        "Authentification_Mode": ["INDIRECTE"],
        "LPS_ID_HOMOLOGATION_DMP": ["DMPGW-TEST"],
        "LPS_Nom": ["dmp-gateway"],
        "LPS_Version": ["0.1.0"],
    }


@dataclass
class VihfSpec:
    """What goes into the VIHF; change a field to break exactly one rule."""

    ins_cx: str
    structure_id: str = STRUCTURE_ID
    issue_instant: datetime = NOW
    not_on_or_after: datetime | None = NOW + timedelta(hours=1)
    #: None = the signing certificate's subject DN, as the DMP requires.
    issuer: str | None = None
    subject: str = "899700367909"
    attributes: dict[str, list[object]] | None = None
    audience: str | None = None
    sha1: bool = False

    def build(self, identity: Identity) -> etree._Element:
        attributes = self.attributes if self.attributes is not None else _vihf_attributes(self.ins_cx, self.structure_id)
        instant = self.issue_instant.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        assertion = etree.Element(
            qname(SAML2, "Assertion"), nsmap={"saml2": SAML2}, ID=f"_{uuid.uuid4()}", IssueInstant=instant, Version="2.0"
        )
        issuer = etree.SubElement(assertion, qname(SAML2, "Issuer"), Format="urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName")
        issuer.text = self.issuer if self.issuer is not None else identity.certificate.subject.rfc4514_string()
        etree.SubElement(etree.SubElement(assertion, qname(SAML2, "Subject")), qname(SAML2, "NameID")).text = self.subject
        if self.not_on_or_after is not None or self.audience:
            conditions = etree.SubElement(assertion, qname(SAML2, "Conditions"), NotBefore=instant)
            if self.not_on_or_after is not None:
                conditions.set("NotOnOrAfter", self.not_on_or_after.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
            if self.audience:
                restriction = etree.SubElement(conditions, qname(SAML2, "AudienceRestriction"))
                etree.SubElement(restriction, qname(SAML2, "Audience")).text = self.audience
        authn = etree.SubElement(assertion, qname(SAML2, "AuthnStatement"), AuthnInstant=instant)
        context = etree.SubElement(authn, qname(SAML2, "AuthnContext"))
        etree.SubElement(context, qname(SAML2, "AuthnContextClassRef")).text = "urn:oasis:names:tc:SAML:2.0:ac:classes:TLSClient"
        statement = etree.SubElement(assertion, qname(SAML2, "AttributeStatement"))
        for name, values in attributes.items():
            attribute = etree.SubElement(statement, qname(SAML2, "Attribute"), Name=name)
            for value in values:
                holder = etree.SubElement(attribute, qname(SAML2, "AttributeValue"))
                if isinstance(value, etree._Element):
                    holder.append(etree.fromstring(etree.tostring(value)))
                else:
                    holder.text = str(value)
        return sign_vihf(assertion, identity, sha1=self.sha1)


def reference_cda(template: Path, *, unique_id: str, ins: str, ins_oid: str = OID_NIR_TEST, size: int = 20_000) -> bytes:
    """The kit's unstructured CDA with this document id, patient INS and a PDF body of about `size` bytes."""
    tree = etree.parse(str(template))
    root = tree.getroot()
    root.find(qname(HL7, "id")).attrib.clear()
    root.find(qname(HL7, "id")).set("root", unique_id)
    patient_id = root.find(f"{qname(HL7, 'recordTarget')}/{qname(HL7, 'patientRole')}/{qname(HL7, 'id')}")
    patient_id.set("root", ins_oid)
    patient_id.set("extension", ins)
    text = root.find(f".//{qname(HL7, 'nonXMLBody')}/{qname(HL7, 'text')}")
    text.text = ""
    header = len(etree.tostring(tree, xml_declaration=True, encoding="UTF-8"))
    raw = max(size - header, 64) * 3 // 4
    text.text = base64.b64encode(b"%PDF-1.4\n" + os.urandom(max(raw - 9, 0))).decode("ascii")
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


@dataclass
class Iti41Spec:
    """The values of one submission (one CDA + its signature); every default is DMP-valid."""

    ins: str = "279035121518989"
    ins_oid: str = OID_NIR_TEST
    structure_id: str = STRUCTURE_ID
    document_uid: str = field(default_factory=lambda: new_oid(4))
    signature_uid: str = field(default_factory=lambda: new_oid(4))
    submission_set_uid: str = field(default_factory=lambda: new_oid(7))
    document_size: int = 20_000
    now: datetime = NOW
    vihf: VihfSpec | None = None

    @property
    def ins_cx(self) -> str:
        return f"{self.ins}^^^&{self.ins_oid}&ISO^NH"


@dataclass
class Iti41Request:
    """A built ITI-41 request and the pieces a test may want to look at or reuse."""

    message: SoapMessage
    spec: Iti41Spec
    cda: bytes
    signature: bytes

    def to_http(self) -> tuple[bytes, str]:
        return self.message.to_http()

    def entry(self, entry_id: str) -> etree._Element:
        """The ExtrinsicObject `Document01` or `Signature01` (to change one of its slots)."""
        return self.message.body.find(f".//{qname(RIM, 'ExtrinsicObject')}[@id='{entry_id}']")

    @property
    def submission_set(self) -> etree._Element:
        return self.message.body.find(f".//{qname(RIM, 'RegistryPackage')}")


def build_iti41(pki: TestPki, template: Path, spec: Iti41Spec | None = None, *, cda: bytes | None = None,
                url: str = f"{BASE_URL}/repository") -> Iti41Request:
    """A valid ITI-41 request; `cda` replaces the reference CDA (hash, size and XAdES follow it)."""
    spec = spec or Iti41Spec()
    cda = cda if cda is not None else reference_cda(
        template, unique_id=spec.document_uid, ins=spec.ins, ins_oid=spec.ins_oid, size=spec.document_size
    )
    tree = etree.ElementTree(etree.fromstring(cda, etree.XMLParser(huge_tree=True)))
    signature = build_xades(
        documents={spec.document_uid: tree}, submission_set_uid=spec.submission_set_uid, identity=pki.sign,
        signature_id=spec.signature_uid, signing_time=spec.now,
    )
    from dmp_gateway.dmp_simulator.testkit.metadata import submit_objects

    request = etree.Element(qname(XDSB, "ProvideAndRegisterDocumentSetRequest"), nsmap={"xdsb": XDSB, "lcm": LCM, "rim": RIM})
    request.append(submit_objects(spec, cda, signature))
    for doc_id, cid in (("Document01", "0.2"), ("Signature01", "0.3")):
        xop_include(etree.SubElement(request, qname(XDSB, "Document"), id=doc_id), cid)
    vihf = (spec.vihf or VihfSpec(
        spec.ins_cx, structure_id=spec.structure_id, issue_instant=spec.now, not_on_or_after=spec.now + timedelta(hours=1)
    )).build(pki.sign)
    message = SoapMessage(envelope(ns.ACTION_ITI41, url, request, vihf), ns.ACTION_ITI41, {"0.2": cda, "0.3": signature})
    return Iti41Request(message, spec, cda, signature)


def sha1_hex(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest().upper()


def td02_request(pki: TestPki, ins: str, *, ins_oid: str = OID_NIR_TEST, vihf: VihfSpec | None = None,
                 url: str = f"{BASE_URL}/patients") -> SoapMessage:
    """PRPA_IN201307UV02 "test d'existence de dossier" (dmp-interfaces.md §3)."""
    def el(parent, local, text=None, **attributes):  # noqa: ANN001, ANN202
        child = etree.SubElement(parent, qname(HL7, local), attributes)
        child.text = text
        return child

    query = etree.Element(qname(HL7, "PRPA_IN201307UV02"), nsmap={None: HL7}, ITSVersion="XML_1.0")
    el(query, "id", root=ROOT_OID, extension=str(uuid.uuid4()))
    el(query, "creationTime", value=NOW.strftime("%Y%m%d%H%M%S"))
    el(query, "interactionId", root="2.16.840.1.113883.1.6", extension="PRPA_IN201307UV02")
    el(query, "processingCode", code="D")
    el(query, "processingModeCode", code="T")
    el(query, "acceptAckCode", code="AL")
    device = el(el(query, "receiver", typeCode="RCV"), "device", classCode="DEV", determinerCode="INSTANCE")
    el(device, "id", root="1.2.250.1.213.4.1.1.1")
    el(device, "softwareName", "DMP")
    device = el(el(query, "sender", typeCode="SND"), "device", classCode="DEV", determinerCode="INSTANCE")
    el(device, "id", root=ROOT_OID)
    el(device, "softwareName", "dmp-gateway")
    control = el(query, "controlActProcess", classCode="CACT", moodCode="EVN")
    el(control, "reasonCode", code="TEST_EXST", codeSystem="1.2.250.1.213.1.1.4.11", displayName="Test d'existence de dossier")
    parameters = el(control, "queryByParameter")
    el(parameters, "queryId", root=f"{ROOT_OID}.2", extension=str(uuid.uuid4()))
    el(parameters, "statusCode", code="new")
    identifier = el(el(parameters, "parameterList"), "patientIdentifier")
    el(identifier, "value", root=ins_oid, extension=ins)
    el(identifier, "semanticsText", "Patient.id")
    cx = f"{ins}^^^&{ins_oid}&ISO^NH"
    assertion = (vihf or VihfSpec(cx)).build(pki.sign)
    return SoapMessage(envelope(ns.ACTION_TD02, url, query, assertion), ns.ACTION_TD02, mtom=False)


def iti18_request(pki: TestPki, ins_cx: str, *, unique_ids: list[str] | None = None, return_type: str = "LeafClass",
                  url: str = f"{BASE_URL}/registry") -> SoapMessage:
    """GetDocuments by uniqueId, or FindDocuments (Approved) for the patient when `unique_ids` is None."""
    request = etree.Element(qname(QUERY, "AdhocQueryRequest"), nsmap={"query": QUERY, "rim": RIM})
    etree.SubElement(request, qname(QUERY, "ResponseOption"), returnType=return_type, returnComposedObjects="true")
    if unique_ids is not None:
        query = etree.SubElement(request, qname(RIM, "AdhocQuery"), id=ns.QUERY_GET_DOCUMENTS)
        params = {"$XDSDocumentEntryUniqueId": "(" + ",".join(f"'{u}'" for u in unique_ids) + ")"}
    else:
        query = etree.SubElement(request, qname(RIM, "AdhocQuery"), id=ns.QUERY_FIND_DOCUMENTS)
        params = {"$XDSDocumentEntryPatientId": f"'{ins_cx}'", "$XDSDocumentEntryStatus": f"('{ns.STATUS_APPROVED}')"}
    for name, value in params.items():
        slot = etree.SubElement(query, qname(RIM, "Slot"), name=name)
        etree.SubElement(etree.SubElement(slot, qname(RIM, "ValueList")), qname(RIM, "Value")).text = value
    return SoapMessage(envelope(ns.ACTION_ITI18, url, request, VihfSpec(ins_cx).build(pki.sign)), ns.ACTION_ITI18, mtom=False)


def iti57_request(pki: TestPki, spec: Iti41Spec, entry_uuid: str, *, new_status: str = ns.STATUS_DELETED,
                  original_status: str = ns.STATUS_APPROVED, url: str = f"{BASE_URL}/registry") -> SoapMessage:
    """Delete (or archive) a document: a new SubmissionSet + one UpdateAvailabilityStatus association."""
    from dmp_gateway.dmp_simulator.testkit.metadata import submission_set

    request = etree.Element(qname(LCM, "SubmitObjectsRequest"), nsmap={"lcm": LCM, "rim": RIM})
    objects = etree.SubElement(request, qname(RIM, "RegistryObjectList"))
    update_spec = Iti41Spec(ins=spec.ins, ins_oid=spec.ins_oid, structure_id=spec.structure_id, now=spec.now)
    objects.append(submission_set(update_spec))
    association = etree.SubElement(
        objects, qname(RIM, "Association"), id=f"urn:uuid:{uuid.uuid4()}",
        associationType=ns.ASSOC_UPDATE_AVAILABILITY, sourceObject="SubmissionSet01", targetObject=entry_uuid,
    )
    for name, value in (("OriginalStatus", original_status), ("NewStatus", new_status)):
        slot = etree.SubElement(association, qname(RIM, "Slot"), name=name)
        etree.SubElement(etree.SubElement(slot, qname(RIM, "ValueList")), qname(RIM, "Value")).text = value
    vihf = VihfSpec(spec.ins_cx, structure_id=spec.structure_id).build(pki.sign)
    return SoapMessage(envelope(ns.ACTION_ITI57, url, request, vihf), ns.ACTION_ITI57, mtom=False)
