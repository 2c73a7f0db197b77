"""TD0.2 "test d'existence du DMP": HL7v3 PRPA_IN201307UV02 query and PRPA_IN201308UV02 answer.

Request shape: dmp-interfaces.md §3 (DRIMBOX VerifyAuthorizationRequest; reason TEST_EXST).
Reading of the answer (TLSI-KIT IsDMPExistTest; §3 table):

    acknowledgement/@typeCode (or typeCode/@code)   AA processed; AE/AR error (detail code + text)
    controlActProcess/queryAck/queryResponseCode    OK → a DMP exists; NF → no DMP
    subject/registrationEvent/subject1/patient/statusCode   active → OPEN; terminated → CLOSED

[inferred, not publicly documented; the simulator emits the same]: the closing date is
`registrationEvent/effectiveTime/high/@value` (else the patient's `effectiveTime/high`); the closing
reason is the text of an acknowledgementDetail (code `DMPClosed` first); the actor's authorisation is
an acknowledgementDetail whose code is VALIDE, EXPIRE, INTERDIT or NON_EXISTE.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from lxml import etree

from dmp_gateway.dmp.errors import Permanent
from dmp_gateway.dmp.namespaces import HL7, XSI, hl7_xpath, qname
from dmp_gateway.dmp.types import DmpState, DmpStatus
from dmp_gateway.ins import Ins

#: The DMP's device id (receiver) and the TEST_EXST reason code system (§3).
DMP_DEVICE_OID = "1.2.250.1.213.4.1.1.1"
REASON_CODE_SYSTEM = "1.2.250.1.213.1.1.4.11"
AUTHORIZATION_CODES = ("VALIDE", "EXPIRE", "INTERDIT", "NON_EXISTE")


def _h(parent: etree._Element, local: str, **attributes: str) -> etree._Element:
    return etree.SubElement(parent, qname(HL7, local), **attributes)


def hl7_ts(moment: dt.datetime) -> str:
    """HL7 TS `YYYYMMDDHHMMSS` in UTC."""
    return moment.astimezone(dt.timezone.utc).strftime("%Y%m%d%H%M%S")


def build_td02_request(ins: Ins, *, lps_oid: str, lps_name: str, now: dt.datetime,
                       message_id: str | None = None) -> etree._Element:
    """PRPA_IN201307UV02 asking whether `ins` has a DMP and whether it is open (TEST_EXST)."""
    root = etree.Element(qname(HL7, "PRPA_IN201307UV02"), nsmap={None: HL7, "xsi": XSI}, ITSVersion="XML_1.0")
    _h(root, "id", root=lps_oid, extension=message_id or str(uuid.uuid4()))
    _h(root, "creationTime", value=hl7_ts(now))
    _h(root, "interactionId", root="2.16.840.1.113883.1.6", extension="PRPA_IN201307UV02")
    _h(root, "processingCode", code="D")
    _h(root, "processingModeCode", code="T")
    _h(root, "acceptAckCode", code="AL")
    for role, device_id, name in (("receiver", DMP_DEVICE_OID, "DMP"), ("sender", lps_oid, lps_name)):
        holder = _h(root, role, typeCode="RCV" if role == "receiver" else "SND")
        device = _h(holder, "device", classCode="DEV", determinerCode="INSTANCE")
        _h(device, "id", root=device_id)
        _h(device, "softwareName").text = name
    act = _h(root, "controlActProcess", classCode="CACT", moodCode="EVN")
    _h(act, "reasonCode", code="TEST_EXST", codeSystem=REASON_CODE_SYSTEM,
       displayName="Test d'existence de dossier")
    query = _h(act, "queryByParameter")
    _h(query, "queryId", root=f"{lps_oid}.2", extension=str(uuid.uuid4()))
    _h(query, "statusCode", code="new")
    parameters = _h(query, "parameterList")
    patient = _h(parameters, "patientIdentifier")
    _h(patient, "value", root=ins.oid, extension=ins.value)
    _h(patient, "semanticsText").text = "Patient.id"
    return root


@dataclass(frozen=True, slots=True)
class Td02Answer:
    """Everything read from a PRPA_IN201308UV02, before deciding what it means."""

    ack_code: str
    query_response_code: str | None
    patient_status: str | None
    #: (code, text) of each acknowledgementDetail, in order.
    details: tuple[tuple[str, str], ...]
    closed_on: dt.date | None = None

    def _detail_text(self, *preferred: str) -> str | None:
        for wanted in preferred:
            for code, text in self.details:
                if code == wanted and text:
                    return text
        texts = [text for code, text in self.details if text and code not in AUTHORIZATION_CODES]
        return texts[0] if texts else None

    @property
    def authorization(self) -> str | None:
        return next((code for code, _ in self.details if code in AUTHORIZATION_CODES), None)

    def to_status(self) -> DmpStatus:
        """The typed status (§3 table); an AE/AR answer that says neither NF nor closed raises `Permanent`."""
        codes = {code for code, _ in self.details}
        closed = self.patient_status == "terminated" or "DMPClosed" in codes
        if self.query_response_code == "NF" or "DMPNotFound" in codes:
            return DmpStatus(DmpState.NOT_FOUND, authorization=self.authorization)
        if closed:
            return DmpStatus(DmpState.CLOSED, closed_on=self.closed_on,
                             closed_reason=self._detail_text("DMPClosed"), authorization=self.authorization)
        if self.ack_code != "AA":
            code = next((c for c, _ in self.details if c not in AUTHORIZATION_CODES), self.ack_code)
            raise Permanent(f"TD0.2 rejected ({self.ack_code})", code=code, context=self._detail_text())
        if self.query_response_code == "OK" and self.patient_status in (None, "active"):
            return DmpStatus(DmpState.OPEN, authorization=self.authorization)
        raise Permanent("TD0.2 answer not understood", code=self.query_response_code or "UNKNOWN",
                        context=f"patient statusCode {self.patient_status!r}")


def _date(value: str | None) -> dt.date | None:
    if not value or len(value) < 8 or not value[:8].isdigit():
        return None
    try:
        return dt.date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    except ValueError:
        return None


def parse_td02_response(element: etree._Element) -> Td02Answer:
    """Read a PRPA_IN201308UV02 element (the SOAP body child); raises `Permanent` if it is something else."""
    if element.tag != qname(HL7, "PRPA_IN201308UV02"):
        raise Permanent("TD0.2 answer is not a PRPA_IN201308UV02", code="UNEXPECTED_BODY", context=str(element.tag))
    def first(path: str) -> str | None:
        found = hl7_xpath(path)(element)
        return str(found[0]).strip() if found else None

    details = tuple(
        (
            (hl7_xpath("string(h:code/@code)")(detail) or "").strip(),
            (hl7_xpath("string(h:text)")(detail) or "").strip(),
        )
        for detail in hl7_xpath("h:acknowledgement/h:acknowledgementDetail")(element)
    )
    event = "h:controlActProcess/h:subject/h:registrationEvent"
    closed_on = first(f"{event}/h:effectiveTime/h:high/@value") or first(
        f"{event}/h:subject1/h:patient/h:effectiveTime/h:high/@value")
    return Td02Answer(
        # The 2009 schema set carries the ack code as an attribute; NE2008 (and the TLSi kit) as an element.
        ack_code=first("h:acknowledgement/@typeCode") or first("h:acknowledgement/h:typeCode/@code") or "AA",
        query_response_code=first("h:controlActProcess/h:queryAck/h:queryResponseCode/@code"),
        patient_status=first(f"{event}/h:subject1/h:patient/h:statusCode/@code"),
        details=details,
        closed_on=_date(closed_on),
    )


__all__ = ["AUTHORIZATION_CODES", "Td02Answer", "build_td02_request", "hl7_ts", "parse_td02_response"]
