"""SOAP 1.2 envelope and WS-Addressing 1.0 for the simulator: read the request, build answers and faults.

Sources: W3C SOAP 1.2 Part 1 §5 (envelope, mustUnderstand) and §5.4 (faults); W3C WS-Addressing 1.0 SOAP
Binding §6 (faults `MessageAddressingHeaderRequired`, `ActionNotSupported`); dmp-interfaces.md §2.2 (the DMP
requires Action with mustUnderstand, MessageID and To; answers carry RelatesTo and the response Action).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from lxml import etree

from dmp_gateway.dmp.namespaces import ACTION_FAULT, SOAP, WSA, WSSE, qname
from dmp_gateway.dmp_simulator.rejections import SoapFault

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, remove_blank_text=False)
#: Header blocks the simulator processes; any other with mustUnderstand="true" gives a MustUnderstand fault.
_UNDERSTOOD = {qname(WSA, n) for n in ("Action", "MessageID", "To", "ReplyTo", "From", "FaultTo", "RelatesTo")}
_UNDERSTOOD.add(qname(WSSE, "Security"))


@dataclass(slots=True)
class SoapRequest:
    """A parsed SOAP 1.2 request."""

    envelope: etree._Element
    header: etree._Element | None
    #: The first child of soap:Body.
    body: etree._Element
    action: str
    message_id: str


def parse_xml(data: bytes, what: str) -> etree._Element:
    """Parse without network or entity expansion; SoapFault(Sender) when not well-formed."""
    try:
        return etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise SoapFault("Sender", f"{what} is not well-formed XML: {exc}") from exc


def parse_envelope(data: bytes, *, expected_action: str | tuple[str, ...]) -> SoapRequest:
    """Check the envelope and the WS-Addressing headers against the action(s) this endpoint serves."""
    envelope = parse_xml(data, "the SOAP envelope")
    if envelope.tag == qname(SOAP11, "Envelope"):
        raise SoapFault("VersionMismatch", "SOAP 1.1 envelope; the DMP speaks SOAP 1.2")
    if envelope.tag != qname(SOAP, "Envelope"):
        raise SoapFault("VersionMismatch", f"root element {envelope.tag} is not a SOAP 1.2 Envelope")
    header = envelope.find(qname(SOAP, "Header"))
    body_el = envelope.find(qname(SOAP, "Body"))
    if body_el is None or len(body_el) == 0:
        raise SoapFault("Sender", "the SOAP Body is missing or empty")
    if header is not None:
        _check_must_understand(header)
    action = _header_text(header, "Action")
    if action is None:
        raise SoapFault("Sender", "WS-Addressing Action header is missing", (WSA, "MessageAddressingHeaderRequired"))
    allowed = (expected_action,) if isinstance(expected_action, str) else expected_action
    if action not in allowed:
        raise SoapFault(
            "Sender", f"action {action!r} is not served here (expected {' or '.join(allowed)})",
            (WSA, "ActionNotSupported"),
        )
    message_id = _header_text(header, "MessageID")
    if message_id is None:
        raise SoapFault("Sender", "WS-Addressing MessageID header is missing", (WSA, "MessageAddressingHeaderRequired"))
    return SoapRequest(envelope=envelope, header=header, body=body_el[0], action=action, message_id=message_id)


def _header_text(header: etree._Element | None, local: str) -> str | None:
    if header is None:
        return None
    element = header.find(qname(WSA, local))
    if element is None or not (element.text or "").strip():
        return None
    return element.text.strip()


def _check_must_understand(header: etree._Element) -> None:
    for block in header:
        if not isinstance(block.tag, str):
            continue
        flag = block.get(qname(SOAP, "mustUnderstand"), "false").strip().lower()
        if flag in ("true", "1") and block.tag not in _UNDERSTOOD:
            raise SoapFault("MustUnderstand", f"header block {block.tag} is marked mustUnderstand and is not processed")


def build_envelope(body: etree._Element, *, action: str, relates_to: str | None) -> bytes:
    """An answer envelope: wsa:Action (mustUnderstand), a new wsa:MessageID and wsa:RelatesTo."""
    envelope = etree.Element(qname(SOAP, "Envelope"), nsmap={"soap": SOAP, "wsa": WSA})
    header = etree.SubElement(envelope, qname(SOAP, "Header"))
    action_el = etree.SubElement(header, qname(WSA, "Action"))
    action_el.set(qname(SOAP, "mustUnderstand"), "true")
    action_el.text = action
    etree.SubElement(header, qname(WSA, "MessageID")).text = f"urn:uuid:{uuid.uuid4()}"
    if relates_to:
        etree.SubElement(header, qname(WSA, "RelatesTo")).text = relates_to
    etree.SubElement(envelope, qname(SOAP, "Body")).append(body)
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def build_fault(fault: SoapFault, *, relates_to: str | None = None) -> bytes:
    """A SOAP 1.2 Fault (Part 1 §5.4): Code/Value (+ Subcode), Reason/Text xml:lang="en"."""
    fault_el = etree.Element(qname(SOAP, "Fault"), nsmap={"soap": SOAP})
    code = etree.SubElement(fault_el, qname(SOAP, "Code"))
    etree.SubElement(code, qname(SOAP, "Value")).text = f"soap:{fault.code}"
    if fault.subcode is not None:
        ns, local = fault.subcode
        subcode = etree.SubElement(code, qname(SOAP, "Subcode"))
        value = etree.SubElement(subcode, qname(SOAP, "Value"), nsmap={"sub": ns})
        value.text = f"sub:{local}"
    reason = etree.SubElement(fault_el, qname(SOAP, "Reason"))
    text = etree.SubElement(reason, qname(SOAP, "Text"))
    text.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
    text.text = fault.reason
    return build_envelope(fault_el, action=ACTION_FAULT, relates_to=relates_to)

