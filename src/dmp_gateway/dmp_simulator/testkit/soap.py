"""SOAP 1.2 requests with WS-Addressing and the VIHF header, packaged as MTOM or plain SOAP."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from lxml import etree

from dmp_gateway.dmp.namespaces import SOAP, WSA, WSSE, XOP, qname


@dataclass
class SoapMessage:
    """A request ready to be changed by a test, then serialized with `to_http()`."""

    envelope: etree._Element
    action: str
    #: MIME parts by Content-ID (without brackets), referenced by xop:Include.
    parts: dict[str, bytes] = field(default_factory=dict)
    mtom: bool = True

    @property
    def header(self) -> etree._Element:
        return self.envelope.find(qname(SOAP, "Header"))

    @property
    def body(self) -> etree._Element:
        return self.envelope.find(qname(SOAP, "Body"))[0]

    def to_http(self) -> tuple[bytes, str]:
        """(body, Content-Type) as the DMP expects them (dmp-interfaces.md §4.1)."""
        envelope = etree.tostring(self.envelope, xml_declaration=True, encoding="UTF-8")
        if not self.mtom:
            return envelope, f'application/soap+xml; charset=UTF-8; action="{self.action}"'
        boundary = f"MIMEBoundary_{uuid.uuid4().hex}"
        chunks = [
            f"--{boundary}\r\nContent-Type: application/xop+xml; charset=UTF-8; type=\"application/soap+xml\"\r\n"
            "Content-Transfer-Encoding: binary\r\nContent-ID: <0.1>\r\n\r\n".encode(),
            envelope,
        ]
        for cid, content in self.parts.items():
            chunks.append(
                f"\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\n"
                f"Content-Transfer-Encoding: binary\r\nContent-ID: <{cid}>\r\n\r\n".encode()
            )
            chunks.append(content)
        chunks.append(f"\r\n--{boundary}--\r\n".encode())
        content_type = (
            f'multipart/related; boundary="{boundary}"; type="application/xop+xml"; start="<0.1>"; '
            f'start-info="application/soap+xml"; action="{self.action}"'
        )
        return b"".join(chunks), content_type


def envelope(action: str, to: str, body: etree._Element, assertion: etree._Element | None) -> etree._Element:
    """Envelope with MessageID, To, Action (mustUnderstand) and wsse:Security holding the VIHF."""
    root = etree.Element(qname(SOAP, "Envelope"), nsmap={"soap": SOAP})
    header = etree.SubElement(root, qname(SOAP, "Header"))
    etree.SubElement(header, qname(WSA, "MessageID"), nsmap={None: WSA}).text = f"urn:uuid:{uuid.uuid4()}"
    etree.SubElement(header, qname(WSA, "To"), nsmap={None: WSA}).text = to
    action_el = etree.SubElement(header, qname(WSA, "Action"), nsmap={None: WSA})
    action_el.set(qname(SOAP, "mustUnderstand"), "true")
    action_el.text = action
    if assertion is not None:
        etree.SubElement(header, qname(WSSE, "Security"), nsmap={"wsse": WSSE}).append(assertion)
    etree.SubElement(root, qname(SOAP, "Body")).append(body)
    return root


def xop_include(parent: etree._Element, cid: str) -> None:
    etree.SubElement(parent, qname(XOP, "Include"), href=f"cid:{cid}", nsmap={"xop": XOP})
