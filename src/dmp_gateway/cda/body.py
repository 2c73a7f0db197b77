"""component/nonXMLBody: the PDF as base64 text, written in chunks.

The XSD wants ``text/@mediaType = application/pdf`` and ``@representation = B64`` (XDS-SD, ITI TF-3
§5.2). A 50 MB PDF is 67 MB of base64: building it as one string, then a tree, then a serialization would
hold several copies. Instead the header tree is serialized once with a marker in the body text and the
base64 is streamed into the output where the marker was; memory stays near one copy of the output.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import BinaryIO

import pybase64
from lxml import etree

from dmp_gateway.cda.elements import Element, sub
from dmp_gateway.cda.inputs import PdfSource

#: Raw bytes per base64 chunk: a multiple of 3 so that the encoded chunks concatenate (192 KiB -> 256 KiB).
#: Small enough that the encoder's transient buffers (about twice the chunk) do not show in the peak.
CHUNK = 3 * 64 * 1024
#: Stands for the base64 text in the serialized header; only its last occurrence is replaced, and the
#: body is the last element of the document, so text in names or titles cannot be mistaken for it.
_MARKER = "DMPGW-PDF-BASE64-GOES-HERE"


def non_xml_body(parent: Element) -> Element:
    """component/nonXMLBody/text for a PDF; returns the text element, still empty."""
    body = sub(sub(parent, "component"), "nonXMLBody")
    return sub(body, "text", mediaType="application/pdf", representation="B64")


def serialize_around_body(root: Element, body_text: Element) -> tuple[bytes, bytes]:
    """The serialized document (UTF-8, XML declaration) cut where the base64 text goes."""
    body_text.text = _MARKER
    serialized = etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8", pretty_print=True)
    body_text.text = None
    head, found, tail = serialized.rpartition(_MARKER.encode("ascii"))
    if not found:  # pragma: no cover - the marker is ASCII and lxml never escapes it
        raise AssertionError("body marker lost during serialization")
    return head, tail


def base64_length(pdf: PdfSource) -> int:
    """Length of the PDF's base64 text (padded, no line breaks)."""
    size = len(pdf) if isinstance(pdf, (bytes, bytearray, memoryview)) else os.stat(os.fspath(pdf)).st_size
    return 4 * ((size + 2) // 3)


def write_parts(head: bytes, pdf: PdfSource, tail: bytes, out: BinaryIO) -> int:
    """Write head, the PDF as base64 in chunks, then tail; returns the number of bytes written."""
    written = out.write(head)
    for chunk in _base64_chunks(pdf):
        written += out.write(chunk)
    return written + out.write(tail)


def _base64_chunks(pdf: PdfSource) -> Iterator[bytes]:
    if isinstance(pdf, (bytes, bytearray, memoryview)):
        view = memoryview(pdf)
        for start in range(0, len(view), CHUNK):
            yield pybase64.b64encode(view[start:start + CHUNK])
        return
    with open(os.fspath(pdf), "rb") as f:
        yield from _encode_stream(f.read)


def _encode_stream(read: Callable[[int], bytes]) -> Iterator[bytes]:
    """Base64 of a stream read in chunks; carries any remainder so every chunk but the last is 3n bytes."""
    carry = b""
    while block := read(CHUNK):
        block = carry + block if carry else block
        cut = len(block) - len(block) % 3
        carry = block[cut:]
        if cut:
            yield pybase64.b64encode(block[:cut])
    if carry:
        yield pybase64.b64encode(carry)
