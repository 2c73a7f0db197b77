"""Fixtures for the DMP connector tests: a dev PKI, the ANS kit CDA and variants, XSD validation,
and a wire-level fake DMP peer (an httpx MockTransport handler backed by `InMemoryDmp`) so the same
contract tests run against `InMemoryDmp` and `SoapDmp` without sockets.

The peer parses what `SoapDmp` sends with the connector's own parsers, checks the VIHF and XAdES
signatures against the dev CA, and answers with hand-built ebRS / HL7v3 responses.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from pathlib import Path

import httpx
import pytest
from lxml import etree

from dmp_gateway.dmp import namespaces as ns
from dmp_gateway.dmp.certs import load_signing_identity
from dmp_gateway.dmp.client import ConnectorConfig, SoapDmp
from dmp_gateway.dmp.devcerts import generate
from dmp_gateway.dmp.ebrim import external_identifier_value, rim, slot
from dmp_gateway.dmp.errors import DmpError, Duplicate, Permanent, Transient
from dmp_gateway.dmp.memory import InMemoryDmp
from dmp_gateway.dmp.mtom import build_mtom, element_content, parse_message
from dmp_gateway.dmp.soap import build_envelope, build_fault, parse_envelope, serialize
from dmp_gateway.dmp.types import DmpState, NewStatus, Submission
from dmp_gateway.dmp.vihf import VihfProfile, verify_vihf
from dmp_gateway.dmp.xades import verify_submission_signature
from dmp_gateway.ins import Ins

ROOT = Path(__file__).resolve().parents[3]
KIT_CDA = ROOT.parent / "shared" / "ans-cda-kit" / "ExemplesCDA" / "DOC_NON_STRUCTURE_CDA-R2-N1.xml"
HL7 = "{urn:hl7-org:v3}"
KIT_INS = Ins("279035121518989", "1.2.250.1.213.1.4.10")
BASE_URL = "https://dmp.test/si-dmp-server/v2/services"
_counter = itertools.count(1)


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="session")
def signer(pki):
    return load_signing_identity(pki.sign_cert, pki.sign_key)


@pytest.fixture(scope="session")
def kit_cda() -> bytes:
    if not KIT_CDA.exists():
        pytest.skip("../shared/ans-cda-kit is not present")
    return KIT_CDA.read_bytes()


@pytest.fixture(scope="session")
def validator():
    from dmp_gateway.dmp.xsd import XsdValidator, default_schemas_dir

    if not default_schemas_dir().exists():
        pytest.skip("../shared/xml-schemas is not present")
    return XsdValidator()


def cda_variant(cda: bytes, *, doc_id: str | None = None, ins: Ins = KIT_INS, title: str | None = None,
                replaces: str | None = None) -> tuple[bytes, str]:
    """The kit CDA with a fresh (or given) document id, another INS / title, an RPLC parent."""
    tree = etree.fromstring(cda)
    doc_id = doc_id or f"1.2.250.1.999.1.1.4.{next(_counter)}{dt.datetime.now().microsecond}"
    tree.find(f"{HL7}id").set("root", doc_id)
    patient_id = tree.find(f"{HL7}recordTarget/{HL7}patientRole/{HL7}id")
    patient_id.set("root", ins.oid)
    patient_id.set("extension", ins.value)
    if title is not None:
        tree.find(f"{HL7}title").text = title
    if replaces:
        related = etree.Element(f"{HL7}relatedDocument", typeCode="RPLC")
        etree.SubElement(etree.SubElement(related, f"{HL7}parentDocument"), f"{HL7}id", root=replaces)
        tree.find(f"{HL7}componentOf").addprevious(related)
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8"), doc_id


@pytest.fixture
def make_submission(kit_cda):
    def make(**kwargs) -> Submission:
        replaces = kwargs.pop("replaces_unique_id", None)
        ins = kwargs.pop("ins", KIT_INS)
        cda, doc_id = cda_variant(kit_cda, ins=ins, replaces=replaces, **kwargs)
        return Submission(ins=ins, cda=cda, unique_id=doc_id, replaces_unique_id=replaces)

    return make


def vihf_profile() -> VihfProfile:
    return VihfProfile(structure_id="1120459876", name_id="810002422979", subject_id="dmp-gateway tests")


def connector_config(**overrides) -> ConnectorConfig:
    values = dict(base_url=BASE_URL, lps_oid="1.2.250.1.999.1.1", vihf=vihf_profile())
    values.update(overrides)
    return ConnectorConfig(**values)


class FakeDmpPeer:
    """A wire-level DMP: parses SoapDmp's requests and answers from an `InMemoryDmp` backend."""

    def __init__(self, backend: InMemoryDmp, ca_pem: str) -> None:
        self.backend = backend
        self.ca_pem = ca_pem
        self.requests: list[httpx.Request] = []
        self.envelopes = []
        self.parsed_messages = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        message = parse_message(request.headers.get("content-type"), await request.aread())
        self.parsed_messages.append(message)
        envelope = parse_envelope(message.envelope)
        self.envelopes.append(envelope)
        claims = verify_vihf(envelope.security, self.ca_pem)
        ins_value, _, rest = claims.first(
            "urn:oasis:names:tc:xacml:2.0:resource:resource-id").partition("^^^&")
        ins = Ins(ins_value, rest.split("&")[0])
        handlers = {
            ns.ACTION_TD02: self._td02, ns.ACTION_ITI41: self._iti41,
            ns.ACTION_ITI18: self._iti18, ns.ACTION_ITI57: self._iti57,
        }
        try:
            body = await handlers[envelope.action](envelope, message, ins)
        except DmpError as exc:
            if envelope.action == ns.ACTION_TD02:
                fault = build_fault("Receiver" if isinstance(exc, Transient) else "Sender", str(exc))
                return self._reply(envelope, fault, status=500)
            body = registry_response(exc)
        return self._reply(envelope, body, mtom=envelope.action == ns.ACTION_ITI41)

    def _reply(self, request_envelope, body, *, status: int = 200, mtom: bool = False) -> httpx.Response:
        action = ns.RESPONSE_ACTION.get(request_envelope.action, ns.ACTION_FAULT)
        data = serialize(build_envelope(body, action=action, relates_to=request_envelope.message_id))
        if mtom:
            message = build_mtom(data, (), action=action)
            return httpx.Response(status, content=message.to_bytes(), headers={"content-type": message.content_type})
        return httpx.Response(status, content=data, headers={"content-type": "application/soap+xml; charset=UTF-8"})

    async def _td02(self, envelope, message, ins):
        return td02_response(await self.backend.dmp_status(ins))

    async def _iti41(self, envelope, message, ins):
        body = envelope.body
        documents = {d.get("id"): element_content(d, message.parts) for d in body.findall(f"{{{ns.XDSB}}}Document")}
        objects = body.find(f"{{{ns.LCM}}}SubmitObjectsRequest/{rim('RegistryObjectList')}")
        entry = objects.find(f"{rim('ExtrinsicObject')}[@id='Document01']")
        unique_id = external_identifier_value(entry, ns.DE_UNIQUE_ID)
        package = objects.find(rim("RegistryPackage"))
        ss_uid = external_identifier_value(package, ns.SS_UNIQUE_ID)
        verify_submission_signature(documents["Signature01"], {unique_id: documents["Document01"]},
                                    ca_pem_file=self.ca_pem, submission_set_unique_id=ss_uid)
        replaced = None
        for association in objects.findall(rim("Association")):
            if association.get("associationType") == ns.ASSOC_RPLC:
                target = association.get("targetObject")
                replaced = next(uid for uid, d in self.backend.documents.items() if d.entry_uuid == target)
        await self.backend.submit(Submission(ins, documents["Document01"], unique_id, replaced, ss_uid))
        return registry_response(None)

    async def _iti18(self, envelope, message, ins):
        value = envelope.body.find(f".//{rim('Value')}").text
        unique_id = value.strip("()").strip("'")
        found = await self.backend.find(ins, unique_id)
        response = etree.Element(f"{{{ns.QUERY}}}AdhocQueryResponse", status=ns.RESPONSE_SUCCESS,
                                 nsmap={"query": ns.QUERY, "rim": ns.RIM})
        objects = etree.SubElement(response, rim("RegistryObjectList"))
        if found is not None:
            entry = etree.SubElement(objects, rim("ExtrinsicObject"), id=found.entry_uuid, mimeType="text/xml",
                                     objectType=ns.DE_OBJECT_TYPE, status=found.status)
            slot(entry, "hash", [found.hash])
            slot(entry, "size", [str(found.size)])
            author = etree.SubElement(entry, rim("Classification"), id=f"urn:uuid:{uuid.uuid4()}",
                                      classificationScheme=ns.DE_AUTHOR, classifiedObject=found.entry_uuid,
                                      nodeRepresentation="")
            slot(author, "authorPerson", ["801234534765^CAMPARINI^Marcel^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS"])
            for scheme, value in ((ns.DE_PATIENT_ID, found.patient_id), (ns.DE_UNIQUE_ID, found.unique_id)):
                etree.SubElement(entry, rim("ExternalIdentifier"), id=f"urn:uuid:{uuid.uuid4()}",
                                 identificationScheme=scheme, registryObject=found.entry_uuid, value=value)
        return response

    async def _iti57(self, envelope, message, ins):
        association = envelope.body.find(f".//{rim('Association')}")
        target = association.get("targetObject")
        new = next(v.text for s in association.findall(rim("Slot")) if s.get("name") == "NewStatus"
                   for v in s.iter(rim("Value")))
        unique_id = next(uid for uid, d in self.backend.documents.items() if d.entry_uuid == target)
        await self.backend.update_status(ins, unique_id, NewStatus(new))
        return registry_response(None)


def registry_response(error: DmpError | None) -> etree._Element:
    response = etree.Element(f"{{{ns.RS}}}RegistryResponse", nsmap={"rs": ns.RS},
                             status=ns.RESPONSE_SUCCESS if error is None else ns.RESPONSE_FAILURE)
    if error is not None:
        code = error.code or ""
        if isinstance(error, Duplicate):
            code = "XDSDuplicateUniqueIdInRegistry"
        elif isinstance(error, Transient):
            code = "XDSRegistryBusy"
        elif isinstance(error, Permanent) and code.startswith("SCRIPTED"):
            code = "XDSRegistryMetadataError"
        errors = etree.SubElement(response, f"{{{ns.RS}}}RegistryErrorList")
        etree.SubElement(errors, f"{{{ns.RS}}}RegistryError", errorCode=code, codeContext=str(error),
                         location=error.location or "", severity=ns.SEVERITY_ERROR)
    return response


def td02_response(status) -> etree._Element:
    """A schema-valid PRPA_IN201308UV02 for a DmpStatus (the shape td02.py documents)."""
    E = lambda parent, tag, **a: etree.SubElement(parent, f"{HL7}{tag}", **a)  # noqa: E731
    root = etree.Element(f"{HL7}PRPA_IN201308UV02", nsmap={None: "urn:hl7-org:v3"}, ITSVersion="XML_1.0")
    E(root, "id", root="1.2.250.1.213.4.1.1.1", extension="resp")
    E(root, "creationTime", value="20240101120000")
    E(root, "interactionId", root="2.16.840.1.113883.1.6", extension="PRPA_IN201308UV02")
    E(root, "processingCode", code="P")
    E(root, "processingModeCode", code="T")
    E(root, "acceptAckCode", code="NE")
    for role, code in (("receiver", "RCV"), ("sender", "SND")):
        device = E(E(root, role, typeCode=code), "device", classCode="DEV", determinerCode="INSTANCE")
        E(device, "id", root="1.2.250.1.213.4.1.1.1")
    ack = E(root, "acknowledgement", typeCode="AA")
    E(E(ack, "targetMessage"), "id", root="1.2.250.1.999.1.1", extension="req")
    details = []
    if status.state is DmpState.CLOSED:
        details.append(("DMPClosed", status.closed_reason or "Fermé"))
    if status.authorization:
        details.append((status.authorization, ""))
    for code, text in details:
        detail = E(ack, "acknowledgementDetail", typeCode="I")
        E(detail, "code", code=code, codeSystem="1.2.250.1.213.1.1.4.11")
        if text:
            E(detail, "text").text = text
    act = E(root, "controlActProcess", classCode="CACT", moodCode="EVN")
    if status.state is not DmpState.NOT_FOUND:
        event = E(E(act, "subject", typeCode="SUBJ"), "registrationEvent", classCode="REG", moodCode="EVN")
        E(event, "statusCode", code="active")
        if status.closed_on:
            E(E(event, "effectiveTime"), "high", value=status.closed_on.strftime("%Y%m%d"))
        patient = E(E(event, "subject1", typeCode="SBJ"), "patient", classCode="PAT")
        E(patient, "id", root=KIT_INS.oid, extension=KIT_INS.value)
        E(patient, "statusCode", code="terminated" if status.state is DmpState.CLOSED else "active")
        E(E(patient, "patientPerson", classCode="PSN", determinerCode="INSTANCE"), "name")
        custodian = E(event, "custodian", typeCode="CST")
        E(E(custodian, "assignedEntity", classCode="ASSIGNED"), "id", root="1.2.250.1.213.4.1.1.1")
    query_ack = E(act, "queryAck")
    E(query_ack, "queryId", root="1.2.250.1.999.1.1.2", extension="q")
    E(query_ack, "queryResponseCode", code="NF" if status.state is DmpState.NOT_FOUND else "OK")
    return root


@pytest.fixture
def peer(pki):
    return FakeDmpPeer(InMemoryDmp(), str(pki.ca_cert))


@pytest.fixture
def soap_dmp(peer, signer):
    client = httpx.AsyncClient(transport=httpx.MockTransport(peer))
    return SoapDmp(client=client, config=connector_config(), signer=signer)


@pytest.fixture(params=["memory", "soap"])
def port_and_backend(request, signer, pki):
    """(the port under test, the InMemoryDmp whose state and faults it reflects)."""
    if request.param == "memory":
        backend = InMemoryDmp()
        return backend, backend
    peer = FakeDmpPeer(InMemoryDmp(), str(pki.ca_cert))
    client = httpx.AsyncClient(transport=httpx.MockTransport(peer))
    return SoapDmp(client=client, config=connector_config(), signer=signer), peer.backend


@pytest.fixture
def kit_ins() -> Ins:
    return KIT_INS


@pytest.fixture
def profile() -> VihfProfile:
    return vihf_profile()


@pytest.fixture
def td02_answer():
    """Factory: a schema-valid PRPA_IN201308UV02 for a DmpStatus (as the peer answers)."""
    return td02_response
