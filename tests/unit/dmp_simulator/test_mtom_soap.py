from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dmp_gateway.dmp import namespaces as ns
from dmp_gateway.dmp_simulator.mtom import build_response, parse_request
from dmp_gateway.dmp_simulator.rejections import SoapFault
from dmp_gateway.dmp_simulator.soap import parse_envelope
from dmp_gateway.dmp_simulator.testkit.soap import SoapMessage, envelope
from lxml import etree


def _message(parts: dict[str, bytes]) -> SoapMessage:
    body = etree.Element(ns.qname(ns.XDSB, "ProvideAndRegisterDocumentSetRequest"))
    return SoapMessage(envelope(ns.ACTION_ITI41, "https://dmp/repository", body, None), ns.ACTION_ITI41, parts)


@given(st.dictionaries(st.from_regex(r"[a-z0-9.]{1,8}@x", fullmatch=True), st.binary(max_size=300), max_size=4))
def test_parts_round_trip_whatever_their_bytes(parts):
    body, content_type = _message(parts).to_http()
    package = parse_request(content_type, body)
    assert package.mtom and package.parts == parts
    assert etree.fromstring(package.envelope).tag == ns.qname(ns.SOAP, "Envelope")


def test_plain_soap_is_accepted():
    message = _message({})
    message.mtom = False
    body, content_type = message.to_http()
    package = parse_request(content_type, body)
    assert not package.mtom and package.envelope == body


@pytest.mark.parametrize(
    "content_type, body, words",
    [
        (None, b"", "missing Content-Type"),
        ("application/json", b"{}", "unsupported"),
        ('multipart/related; boundary="b"', b"--b--", "not MTOM"),
        ('multipart/related; type="application/xop+xml"', b"", "boundary"),
        ('multipart/related; type="application/xop+xml"; boundary="b"', b"nothing", "boundary"),
        ('multipart/related; type="application/xop+xml"; boundary="b"; start="<r>"',
         b"--b\r\nContent-ID: <r>\r\n\r\n<x/>", "closing boundary"),
        ('multipart/related; type="application/xop+xml"; boundary="b"; start="<other>"',
         b"--b\r\nContent-ID: <r>\r\n\r\n<x/>\r\n--b--", "start Content-ID"),
    ],
)
def test_bad_packaging_is_a_sender_fault(content_type, body, words):
    with pytest.raises(SoapFault, match=words) as raised:
        parse_request(content_type, body)
    assert raised.value.code == "Sender"


def test_response_packaging_follows_the_request():
    envelope_bytes = b"<e/>"
    body, content_type = build_response(envelope_bytes, mtom=True, action="urn:a")
    assert parse_request(content_type, body).envelope == envelope_bytes
    assert build_response(envelope_bytes, mtom=False, action="urn:a")[1].startswith("application/soap+xml")


def test_envelope_check_accepts_one_of_the_service_actions():
    message = _message({})
    request = parse_envelope(etree.tostring(message.envelope), expected_action=(ns.ACTION_ITI18, ns.ACTION_ITI41))
    assert request.action == ns.ACTION_ITI41 and request.message_id.startswith("urn:uuid:")
