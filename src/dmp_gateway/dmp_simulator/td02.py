"""TD0.2 (HL7v3 PRPA_IN201307UV02 → PRPA_IN201308UV02): does the patient have an open DMP?

Answer shape from dmp-interfaces.md §3 (TLSI-KIT IsDMPExistTest): `acknowledgement/typeCode/@code` AA (or AE
for a request the simulator cannot serve, with `acknowledgementDetail` code and text),
`controlActProcess/queryAck/queryResponseCode/@code` OK / NF, and for a known DMP
`subject/registrationEvent/subject1/patient/statusCode/@code` active / terminated. A closed DMP also gets
`registrationEvent/effectiveTime/high` = the closing date and an informational `acknowledgementDetail`
`DMPClosed` whose text is the reason (the real element names for these are not public).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from lxml import etree

from dmp_gateway.dmp.namespaces import HL7, qname
from dmp_gateway.dmp.xsd import XsdValidator
from dmp_gateway.dmp_simulator.patients import DmpState, PatientDirectory
from dmp_gateway.dmp_simulator.rejections import Rejected, SoapFault
from dmp_gateway.ins import INS_OIDS

DMP_DEVICE_OID = "1.2.250.1.213.4.1.1.1"
_INTERACTION_ROOT = "2.16.840.1.113883.1.6"


def _el(parent: etree._Element, local: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, qname(HL7, local), {k: v for k, v in attributes.items()})
    if text is not None:
        element.text = text
    return element


def handle_td02(
    query: etree._Element, *, patients: PatientDirectory, schemas: XsdValidator | None, now: datetime,
    rejection: Rejected | None = None,
) -> etree._Element:
    """The PRPA_IN201308UV02 answering `query`; `rejection` (e.g. an invalid VIHF) gives an AE answer."""
    if query.tag != qname(HL7, "PRPA_IN201307UV02"):
        raise SoapFault("Sender", f"the body of a TD0.2 request must be PRPA_IN201307UV02, not {query.tag}")
    response = _header(query, now)
    if rejection is None and schemas is not None:
        errors = schemas.errors(query)
        if errors:
            rejection = Rejected("DMPInvalidRequest", "PRPA_IN201307UV02 is not schema-valid: " + "; ".join(errors[:3]))
    value = query.find(
        f".//{qname(HL7, 'queryByParameter')}/{qname(HL7, 'parameterList')}/"
        f"{qname(HL7, 'patientIdentifier')}/{qname(HL7, 'value')}"
    )
    if rejection is None and (value is None or value.get("root") not in INS_OIDS or not value.get("extension")):
        rejection = Rejected("DMPInvalidRequest", "patientIdentifier/value must carry an INS OID root and the INS extension")
    acknowledgement = _el(response, "acknowledgement")
    _el(acknowledgement, "typeCode", code="AE" if rejection else "AA")
    target = _el(acknowledgement, "targetMessage")
    request_id = query.find(qname(HL7, "id"))
    if request_id is not None:
        target.append(_copy(request_id))
    control = etree.Element(qname(HL7, "controlActProcess"), classCode="CACT", moodCode="EVN")
    _el(control, "code", code="PRPA_TE201308UV02", codeSystem=_INTERACTION_ROOT)
    if rejection is not None:
        for error in rejection.errors:
            detail = _el(acknowledgement, "acknowledgementDetail", typeCode="E")
            _el(detail, "code", code=error.code)
            _el(detail, "text", error.context)
        response_code = "AE"
    else:
        record = patients.lookup(value.get("extension"))
        response_code = "NF" if record.state is DmpState.NONE else "OK"
        if record.state is not DmpState.NONE:
            _registration(control, value, record, now)
        if record.state is DmpState.CLOSED:
            detail = _el(acknowledgement, "acknowledgementDetail", typeCode="I")
            _el(detail, "code", code="DMPClosed", displayName="DMP fermé")
            closed = f"closed on {record.closed_on.isoformat()}" if record.closed_on else "closed"
            _el(detail, "text", f"{closed}: {record.closed_reason}" if record.closed_reason else closed)
    query_ack = _el(control, "queryAck")
    parameters = query.find(f".//{qname(HL7, 'queryByParameter')}")
    query_id = parameters.find(qname(HL7, "queryId")) if parameters is not None else None
    if query_id is not None:
        query_ack.append(_copy(query_id))
    _el(query_ack, "queryResponseCode", code=response_code)
    if parameters is not None:
        control.append(_copy(parameters))
    response.append(control)
    return response


def _header(query: etree._Element, now: datetime) -> etree._Element:
    response = etree.Element(qname(HL7, "PRPA_IN201308UV02"), nsmap={None: HL7}, ITSVersion="XML_1.0")
    _el(response, "id", root=DMP_DEVICE_OID, extension=str(uuid.uuid4()))
    _el(response, "creationTime", value=now.strftime("%Y%m%d%H%M%S"))
    _el(response, "interactionId", root=_INTERACTION_ROOT, extension="PRPA_IN201308UV02")
    _el(response, "processingCode", code="P")
    _el(response, "processingModeCode", code="T")
    _el(response, "acceptAckCode", code="NE")
    receiver = _el(response, "receiver", typeCode="RCV")
    device = _el(receiver, "device", classCode="DEV", determinerCode="INSTANCE")
    sender_id = query.find(f"{qname(HL7, 'sender')}/{qname(HL7, 'device')}/{qname(HL7, 'id')}")
    _el(device, "id", root=sender_id.get("root", "") if sender_id is not None else "")
    sender = _el(response, "sender", typeCode="SND")
    device = _el(sender, "device", classCode="DEV", determinerCode="INSTANCE")
    _el(device, "id", root=DMP_DEVICE_OID)
    _el(device, "softwareName", "DMP")
    return response


def _registration(control: etree._Element, value: etree._Element, record, now: datetime) -> None:  # noqa: ANN001
    subject = _el(control, "subject", typeCode="SUBJ")
    event = _el(subject, "registrationEvent", classCode="REG", moodCode="EVN")
    _el(event, "statusCode", code="active" if record.state is DmpState.OPEN else "completed")
    if record.state is DmpState.CLOSED and record.closed_on:
        _el(_el(event, "effectiveTime"), "high", value=record.closed_on.strftime("%Y%m%d"))
    patient = _el(_el(event, "subject1", typeCode="SBJ"), "patient", classCode="PAT")
    _el(patient, "id", root=value.get("root"), extension=value.get("extension"))
    _el(patient, "statusCode", code="active" if record.state is DmpState.OPEN else "terminated")
    # Identity traits returned by the DMP must not be displayed (RG_0320): the simulator masks them.
    person = _el(patient, "patientPerson", classCode="PSN", determinerCode="INSTANCE")
    _el(person, "name", nullFlavor="MSK")
    custodian = _el(event, "custodian", typeCode="CST")
    entity = _el(custodian, "assignedEntity", classCode="ASSIGNED")
    _el(entity, "id", root=DMP_DEVICE_OID)


def _copy(element: etree._Element) -> etree._Element:
    copied = etree.fromstring(etree.tostring(element))
    return copied
