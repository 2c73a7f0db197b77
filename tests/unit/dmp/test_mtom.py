"""MTOM/XOP build and parse, both directions (XOP 1.0; dmp-interfaces.md §4.1)."""

from __future__ import annotations

import tracemalloc

import pytest
from lxml import etree

from dmp_gateway.dmp.mtom import (
    MtomError, Part, build_mtom, element_content, include_content_id, include_element, parse_message,
)
from dmp_gateway.dmp.namespaces import XDSB, qname
from dmp_gateway.dmp.soap import build_envelope, parse_envelope, serialize


def _envelope_with_include(cid: str) -> bytes:
    body = etree.Element(qname(XDSB, "ProvideAndRegisterDocumentSetRequest"), nsmap={"xdsb": XDSB})
    etree.SubElement(body, qname(XDSB, "Document"), id="Document01").append(include_element(cid))
    return serialize(build_envelope(body, action="urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b", to="https://x/r"))


@pytest.mark.parametrize("size", [1, 1024 * 1024, 50 * 1024 * 1024], ids=["1B", "1MB", "50MB"])
def test_round_trip_gives_back_envelope_and_bytes_with_bounded_memory(size):
    document = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    envelope = _envelope_with_include("0.2")
    tracemalloc.start()
    try:
        message = build_mtom(envelope, [Part("0.2", document)], action="urn:a")
        body = message.to_bytes()
        parsed = parse_message(message.content_type, body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert parsed.envelope == envelope
    assert parsed.parts["0.2"] == document
    assert message.content_length == len(body)
    # body (1×) + the parsed part (1×) + small change: never a per-chunk copy of the document
    assert peak < 2 * size + 512 * 1024
    document_element = parse_envelope(parsed.envelope).body.find(qname(XDSB, "Document"))
    assert element_content(document_element, parsed.parts) == document


def test_streamed_chunks_equal_the_whole_body():
    message = build_mtom(b"<e/>", [Part("0.2", b"a" * 3_000_000), Part("0.3", b"b")])
    assert b"".join(message.iter_bytes()) == message.to_bytes()


def test_content_type_names_root_part_and_action():
    message = build_mtom(b"<e/>", action="urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b")
    assert message.content_type.startswith("multipart/related;")
    for piece in ('type="application/xop+xml"', 'start="<0.1>"', 'start-info="application/soap+xml"',
                  'action="urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b"'):
        assert piece in message.content_type


def test_root_part_found_by_start_even_when_not_first():
    boundary = "b1"
    body = (b"--b1\r\nContent-ID: <doc>\r\n\r\nDATA\r\n--b1\r\nContent-Type: application/xop+xml\r\n"
            b"Content-ID: <root>\r\n\r\n<e/>\r\n--b1--\r\n")
    parsed = parse_message(f'multipart/related; boundary={boundary}; start="<root>"', body)
    assert parsed.envelope == b"<e/>" and parsed.parts == {"doc": b"DATA"}


def test_plain_soap_is_accepted():
    parsed = parse_message("application/soap+xml; charset=UTF-8", b"<e/>")
    assert parsed.envelope == b"<e/>" and not parsed.mtom


@pytest.mark.parametrize("content_type, body", [
    ("multipart/related", b"--x\r\n\r\n"),
    ('multipart/related; boundary="x"', b"no boundary here"),
    ('multipart/related; boundary="x"', b"--x\r\nContent-ID: <a>\r\n\r\nunterminated"),
    ('multipart/related; boundary="x"; start="<zz>"', b"--x\r\nContent-ID: <a>\r\n\r\n<e/>\r\n--x--"),
])
def test_malformed_multipart_is_an_mtom_error(content_type, body):
    with pytest.raises(MtomError):
        parse_message(content_type, body)


def test_include_href_is_a_cid_url_and_reads_back():
    element = etree.Element("holder")
    element.append(include_element("0.2@dmp gateway"))
    assert element[0].get("href") == "cid:0.2@dmp%20gateway"
    assert include_content_id(element) == "0.2@dmp gateway"


def test_include_of_a_missing_part_is_an_error():
    element = etree.Element("holder")
    element.append(include_element("0.9"))
    with pytest.raises(MtomError):
        element_content(element, {})


def test_inline_base64_content_is_decoded():
    element = etree.Element("holder")
    element.text = "SGVsbG8="
    assert element_content(element, {}) == b"Hello"
