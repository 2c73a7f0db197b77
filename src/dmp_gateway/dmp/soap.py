"""SOAP 1.2 envelopes with WS-Addressing and WS-Security headers; SOAP fault parsing and building.

Sources: W3C SOAP 1.2 Part 1 §5 (envelope) and §5.4 (faults); WS-Addressing 1.0 SOAP binding
(MessageID, To, Action with mustUnderstand, RelatesTo); OASIS WSS 1.0 (`wsse:Security` carries the
VIHF SAML assertion); dmp-interfaces.md §2.2. Used in both directions, by the gateway and the simulator.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from lxml import etree

from dmp_gateway.dmp.namespaces import SOAP, WSA, WSSE, XML, qname

#: A parser that never resolves entities or touches the network; `huge_tree` admits inline base64.
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, remove_comments=False)


class SoapError(ValueError):
    """The bytes are not a SOAP 1.2 envelope we can read."""


def parse_xml(data: bytes) -> etree._Element:
    """Parse XML bytes safely (no DTD entities, no network); raises `SoapError` when malformed."""
    try:
        return etree.fromstring(data, parser=PARSER)
    except etree.XMLSyntaxError as exc:
        raise SoapError(f"not well-formed XML: {exc}") from exc


def new_message_id() -> str:
    """A WS-Addressing MessageID: `urn:uuid:<uuid4>` (dmp-interfaces.md §2.2)."""
    return f"urn:uuid:{uuid.uuid4()}"


def build_envelope(
    body: etree._Element,
    *,
    action: str,
    to: str | None = None,
    message_id: str | None = None,
    relates_to: str | None = None,
    security: etree._Element | None = None,
) -> etree._Element:
    """A SOAP 1.2 envelope: WS-A headers (Action mustUnderstand), optional `wsse:Security`, one body child.

    Requests give `to`; responses give `relates_to` (the request MessageID). The ANS samples send no
    ReplyTo, so none is added (WS-A then means anonymous).
    """
    envelope = etree.Element(qname(SOAP, "Envelope"), nsmap={"soap": SOAP})
    header = etree.SubElement(envelope, qname(SOAP, "Header"))
    etree.SubElement(header, qname(WSA, "MessageID"), nsmap={None: WSA}).text = (
        message_id or new_message_id()
    )
    if relates_to is not None:
        etree.SubElement(header, qname(WSA, "RelatesTo"), nsmap={None: WSA}).text = relates_to
    if to is not None:
        etree.SubElement(header, qname(WSA, "To"), nsmap={None: WSA}).text = to
    action_element = etree.SubElement(header, qname(WSA, "Action"), nsmap={None: WSA})
    action_element.set(qname(SOAP, "mustUnderstand"), "true")
    action_element.text = action
    if security is not None:
        wsse = etree.SubElement(header, qname(WSSE, "Security"), nsmap={"wsse": WSSE})
        wsse.append(security)
    etree.SubElement(envelope, qname(SOAP, "Body")).append(body)
    return envelope


def serialize(element: etree._Element) -> bytes:
    """UTF-8 bytes with an XML declaration; the only way our SOAP messages become bytes."""
    return etree.tostring(element, xml_declaration=True, encoding="UTF-8")


@dataclass(frozen=True, slots=True)
class SoapFault:
    """A SOAP 1.2 Fault (Part 1 §5.4): Code/Value, Subcode values, Reason text, Detail text."""

    #: `Sender`, `Receiver`, `MustUnderstand`, `VersionMismatch` or `DataEncodingUnknown` (local name).
    code: str
    reason: str
    #: Subcode values, outermost first, as `prefix:local` text resolved to local names.
    subcodes: tuple[str, ...] = ()
    detail: str | None = None

    @property
    def is_receiver(self) -> bool:
        """The fault blames the server (retry may help), not the message (SOAP 1.2 §5.4.6)."""
        return self.code == "Receiver"


@dataclass(frozen=True, slots=True)
class Envelope:
    """A parsed SOAP 1.2 envelope: WS-A headers, the `wsse:Security` element, the body child, any fault."""

    root: etree._Element
    action: str | None
    message_id: str | None
    to: str | None
    relates_to: str | None
    security: etree._Element | None
    #: The first element child of soap:Body (None for an empty body).
    body: etree._Element | None
    fault: SoapFault | None = None
    #: Header blocks marked mustUnderstand="true" (Clark names), so a receiver can refuse unknown ones.
    must_understand: tuple[str, ...] = field(default_factory=tuple)


def parse_envelope(data: bytes) -> Envelope:
    """Read a SOAP 1.2 envelope; raises `SoapError` if it is not one (e.g. SOAP 1.1 or plain XML)."""
    root = parse_xml(data)
    if root.tag != qname(SOAP, "Envelope"):
        raise SoapError(f"root element is {root.tag}, not a SOAP 1.2 Envelope")
    header = root.find(qname(SOAP, "Header"))
    body = root.find(qname(SOAP, "Body"))
    if body is None:
        raise SoapError("the envelope has no soap:Body")

    def text(local: str) -> str | None:
        element = header.find(qname(WSA, local)) if header is not None else None
        return element.text.strip() if element is not None and element.text else None

    security = header.find(qname(WSSE, "Security")) if header is not None else None
    body_child = next((child for child in body if isinstance(child.tag, str)), None)
    must = tuple(
        child.tag
        for child in (header if header is not None else ())
        if isinstance(child.tag, str) and child.get(qname(SOAP, "mustUnderstand")) in ("true", "1")
    )
    fault = _parse_fault(body_child) if body_child is not None else None
    return Envelope(
        root=root,
        action=text("Action"),
        message_id=text("MessageID"),
        to=text("To"),
        relates_to=text("RelatesTo"),
        security=next((c for c in security if isinstance(c.tag, str)), None) if security is not None else None,
        body=body_child,
        fault=fault,
        must_understand=must,
    )


def _parse_fault(element: etree._Element) -> SoapFault | None:
    if element.tag != qname(SOAP, "Fault"):
        return None
    values: list[str] = []
    node = element.find(qname(SOAP, "Code"))
    while node is not None:
        value = node.find(qname(SOAP, "Value"))
        if value is not None and value.text:
            values.append(value.text.strip().rpartition(":")[2])
        node = node.find(qname(SOAP, "Subcode"))
    reason = element.find(f"{qname(SOAP, 'Reason')}/{qname(SOAP, 'Text')}")
    detail = element.find(qname(SOAP, "Detail"))
    detail_text = " ".join(t.strip() for t in detail.itertext() if t.strip()) if detail is not None else None
    return SoapFault(
        code=values[0] if values else "Receiver",
        reason=(reason.text or "").strip() if reason is not None else "",
        subcodes=tuple(values[1:]),
        detail=detail_text or None,
    )


def build_fault(code: str, reason: str, *, subcode: tuple[str, str] | None = None, detail: str | None = None) -> etree._Element:
    """A `soap:Fault` body element (SOAP 1.2 §5.4); `subcode` is (namespace, local name)."""
    fault = etree.Element(qname(SOAP, "Fault"), nsmap={"soap": SOAP})
    code_element = etree.SubElement(fault, qname(SOAP, "Code"))
    etree.SubElement(code_element, qname(SOAP, "Value")).text = f"soap:{code}"
    if subcode is not None:
        namespace, local = subcode
        sub = etree.SubElement(code_element, qname(SOAP, "Subcode"))
        value = etree.SubElement(sub, qname(SOAP, "Value"), nsmap={"sub": namespace})
        value.text = f"sub:{local}"
    reason_element = etree.SubElement(fault, qname(SOAP, "Reason"))
    text = etree.SubElement(reason_element, qname(SOAP, "Text"))
    text.set(qname(XML, "lang"), "en")
    text.text = reason
    if detail is not None:
        etree.SubElement(fault, qname(SOAP, "Detail")).text = detail
    return fault


__all__ = [
    "Envelope",
    "PARSER",
    "SoapError",
    "SoapFault",
    "build_envelope",
    "build_fault",
    "new_message_id",
    "parse_envelope",
    "parse_xml",
    "serialize",
]
