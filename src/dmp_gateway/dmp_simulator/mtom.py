"""The simulator's side of MTOM/XOP: strict checks of what a DMP accepts, on top of the gateway's
`dmp/mtom.py` packaging (W3C SOAP MTOM, XOP 1.0, RFC 2387).

Requests: `multipart/related; type="application/xop+xml"` whose root part is the SOAP envelope, or a
plain `application/soap+xml` envelope (ITI-18/57 are usually sent that way, IHE ITI TF-2 §V.3.5);
`text/xml` is SOAP 1.1 and gets a VersionMismatch fault. Answers use the request's packaging
(dmp-interfaces.md §4.1: "the response uses the same format").
"""

from __future__ import annotations

from dmp_gateway.dmp.mtom import MtomError, ParsedMessage, build_mtom, parse_content_type, parse_message
from dmp_gateway.dmp_simulator.rejections import SoapFault

SoapPackage = ParsedMessage


def parse_request(content_type: str | None, body: bytes) -> ParsedMessage:
    """Split a SOAP 1.2 HTTP request body (MTOM or plain); raises SoapFault on bad packaging."""
    if not content_type:
        raise SoapFault("Sender", "missing Content-Type: expected multipart/related (MTOM) or application/soap+xml")
    media, params = parse_content_type(content_type)
    if media == "text/xml":
        raise SoapFault("VersionMismatch", "text/xml is SOAP 1.1; the DMP speaks SOAP 1.2 (application/soap+xml)")
    if media not in ("application/soap+xml", "multipart/related"):
        raise SoapFault("Sender", f"unsupported Content-Type {media}")
    if media == "multipart/related" and params.get("type", "").lower() != "application/xop+xml":
        raise SoapFault("Sender", 'multipart/related without type="application/xop+xml" is not MTOM')
    try:
        return parse_message(content_type, body)
    except MtomError as exc:
        raise SoapFault("Sender", f"MTOM packaging: {exc}") from exc


def build_response(envelope: bytes, *, mtom: bool, action: str) -> tuple[bytes, str]:
    """The body and Content-Type of an answer: MTOM with a single root part, or plain SOAP 1.2."""
    if not mtom:
        return envelope, f'application/soap+xml; charset=UTF-8; action="{action}"'
    message = build_mtom(envelope, (), action=action)
    return message.to_bytes(), message.content_type
