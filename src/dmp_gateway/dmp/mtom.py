"""MTOM/XOP (`multipart/related`) packaging of SOAP 1.2 messages, both directions.

ITI-41 is always sent with MTOM/XOP and answered in the same format (IHE ITI TF-2 §3.41, ITI TF-2x
Appendix V; dmp-interfaces.md §4.1). The root part `<0.1>` is the SOAP envelope as
`application/xop+xml`; each document is a binary part referenced from the envelope by
`<xop:Include href="cid:0.2"/>` (W3C XOP 1.0, RFC 2392 `cid:` URLs).

Memory: `build_mtom` never copies a document; the message body is a tuple of chunks that reference
the caller's bytes (streamed by httpx). `parse_message` makes one copy of each part, so parsing a
body of N bytes peaks at about 2N.

Public API (also used by `dmp_simulator/`):
    Part, MtomMessage, ParsedMessage, MtomError,
    build_mtom(envelope, parts, action=...) -> MtomMessage
    parse_message(content_type, body) -> ParsedMessage      (multipart/related or plain SOAP)
    include_element(content_id) -> xop:Include element
    include_content_id(element) -> str | None               (the cid an element's xop:Include names)
    element_content(element, parts) -> bytes                (xop:Include or inline base64)
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
import email.utils
from email.message import Message
from urllib.parse import quote, unquote

from lxml import etree

from dmp_gateway.dmp.namespaces import XOP, qname

ROOT_CONTENT_ID = "0.1"
SOAP_CONTENT_TYPE = "application/soap+xml"
XOP_CONTENT_TYPE = "application/xop+xml"
_CRLF = b"\r\n"
#: Chunk size handed to the HTTP layer when streaming a large part.
CHUNK_SIZE = 1 << 20


class MtomError(ValueError):
    """The message is not a well-formed MTOM/XOP multipart/related message."""


@dataclass(frozen=True, slots=True)
class Part:
    """One attachment: its Content-ID (without angle brackets), bytes and media type."""

    content_id: str
    data: bytes
    content_type: str = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class MtomMessage:
    """A message ready to send: its HTTP Content-Type and body chunks (no copy of the documents)."""

    content_type: str
    chunks: tuple[bytes | memoryview, ...]

    @property
    def content_length(self) -> int:
        return sum(len(chunk) for chunk in self.chunks)

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": self.content_type, "Content-Length": str(self.content_length)}

    def iter_bytes(self) -> Iterator[bytes]:
        """The body in chunks of at most CHUNK_SIZE bytes (each a fresh small `bytes`)."""
        for chunk in self.chunks:
            view = memoryview(chunk)
            for start in range(0, len(view), CHUNK_SIZE):
                yield bytes(view[start : start + CHUNK_SIZE])

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        for piece in self.iter_bytes():
            yield piece

    def to_bytes(self) -> bytes:
        """The whole body in one buffer (tests, small messages)."""
        return b"".join(self.chunks)


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    """A received message: the SOAP envelope bytes and the attachments by Content-ID."""

    envelope: bytes
    parts: Mapping[str, bytes] = field(default_factory=dict)
    #: Media type of each attachment, by Content-ID.
    part_types: Mapping[str, str] = field(default_factory=dict)
    #: True when the message was multipart/related (MTOM), False for plain `application/soap+xml`.
    mtom: bool = False


def build_mtom(
    envelope: bytes,
    parts: Sequence[Part] = (),
    *,
    action: str | None = None,
    boundary: str | None = None,
) -> MtomMessage:
    """Package a SOAP 1.2 envelope and its XOP attachments as `multipart/related` (XOP 1.0 §4).

    `envelope` must already reference each part with `xop:Include` (see `include_element`).
    `action` is repeated in the Content-Type as SOAP 1.2 over HTTP wants (RFC 3902).
    """
    ids = [part.content_id for part in parts]
    if len(set(ids)) != len(ids) or ROOT_CONTENT_ID in ids:
        raise MtomError(f"Content-IDs must be unique and differ from {ROOT_CONTENT_ID}: {ids}")
    boundary = boundary or _fresh_boundary(envelope, parts)
    root_type = f'{XOP_CONTENT_TYPE}; charset=UTF-8; type="{SOAP_CONTENT_TYPE}"'
    if action:
        root_type += f'; action="{action}"'
    chunks: list[bytes | memoryview] = [
        _part_head(boundary, root_type, ROOT_CONTENT_ID, first=True),
        envelope,
    ]
    for part in parts:
        chunks.append(_part_head(boundary, part.content_type, part.content_id, first=False))
        chunks.append(memoryview(part.data))
    chunks.append(f"\r\n--{boundary}--\r\n".encode("ascii"))
    content_type = (
        f'multipart/related; boundary="{boundary}"; type="{XOP_CONTENT_TYPE}"; '
        f'start="<{ROOT_CONTENT_ID}>"; start-info="{SOAP_CONTENT_TYPE}"'
    )
    if action:
        content_type += f'; action="{action}"'
    return MtomMessage(content_type=content_type, chunks=tuple(chunks))


def _fresh_boundary(envelope: bytes, parts: Sequence[Part]) -> str:
    while True:
        boundary = f"MIMEBoundary_{uuid.uuid4().hex}"
        marker = boundary.encode("ascii")
        if marker not in envelope and not any(marker in part.data for part in parts):
            return boundary


def _part_head(boundary: str, content_type: str, content_id: str, *, first: bool) -> bytes:
    lead = "" if first else "\r\n"
    return (
        f"{lead}--{boundary}\r\n"
        f"Content-Type: {content_type}\r\n"
        "Content-Transfer-Encoding: binary\r\n"
        f"Content-ID: <{content_id}>\r\n\r\n"
    ).encode("ascii")


def parse_message(content_type: str | None, body: bytes) -> ParsedMessage:
    """Split a received SOAP message into its envelope and XOP parts.

    Accepts `multipart/related` (MTOM: the root part is the one named by `start`, else the first)
    and plain `application/soap+xml` / `text/xml` (the body is the envelope). Raises `MtomError`.
    """
    media_type, params = parse_content_type(content_type or SOAP_CONTENT_TYPE)
    if media_type != "multipart/related":
        return ParsedMessage(envelope=bytes(body))
    boundary = params.get("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise MtomError("multipart/related Content-Type has no boundary parameter")
    start = params.get("start")
    start_id = _strip_angles(start) if isinstance(start, str) else None
    parsed = list(_split_parts(body, boundary.encode("latin-1")))
    if not parsed:
        raise MtomError("multipart/related body holds no part")
    root_index = 0
    if start_id is not None:
        matches = [i for i, (cid, _, _) in enumerate(parsed) if cid == start_id]
        if not matches:
            raise MtomError(f"no part has the start Content-ID <{start_id}>")
        root_index = matches[0]
    envelope = parsed[root_index][2]
    parts: dict[str, bytes] = {}
    types: dict[str, str] = {}
    for index, (cid, ctype, data) in enumerate(parsed):
        if index == root_index:
            continue
        if cid is None:
            raise MtomError(f"attachment part {index + 1} has no Content-ID")
        if cid in parts:
            raise MtomError(f"two parts share the Content-ID <{cid}>")
        parts[cid] = data
        types[cid] = ctype
    return ParsedMessage(envelope=envelope, parts=parts, part_types=types, mtom=True)


#: RFC 7231 §3.1.1.1 parameters: `; name=token` or `; name="quoted"` (no escapes: see below).
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_MEDIA_TYPE = re.compile(rf"\s*({_TOKEN}/{_TOKEN})\s*")
_PARAMETER = re.compile(rf';\s*({_TOKEN})\s*=\s*(?:"([^"\\]*)"|({_TOKEN}))\s*')


def parse_content_type(value: str) -> tuple[str, dict[str, str]]:
    """Media type (lower case) and parameters (names in lower case) of a Content-Type header.

    The SOAP and MTOM headers of both sides are plain `type/subtype; name=value; name="value"`, read
    here with two regular expressions; anything else (escapes in quoted strings, RFC 2231 `name*=`,
    stray text) goes to the email package's lenient parser, which costs ten times as much. Both give
    the same answer where both apply (tests/unit/dmp/test_content_type.py).
    """
    media = _MEDIA_TYPE.match(value)
    if media is not None:
        params: dict[str, str] = {}
        position = media.end()
        while position < len(value):
            parameter = _PARAMETER.match(value, position)
            if parameter is None:
                break
            name, quoted, token = parameter.groups()
            if "*" in name:  # RFC 2231: `name*=` (encoded) and `name*0=` (continued) are the email package's
                break
            if quoted is not None and len(quoted) > 1 and quoted[0] == "<" and quoted[-1] == ">":
                quoted = quoted[1:-1]  # as email.utils.unquote does (a Content-ID in `start`)
            params[name.lower()] = quoted if quoted is not None else token
            position = parameter.end()
        else:
            return media.group(1).lower(), params
    return _content_type_by_email(value)


def _content_type_by_email(value: str) -> tuple[str, dict[str, str]]:
    message = Message()
    message["Content-Type"] = value
    params = message.get_params() or []
    return message.get_content_type(), {key.lower(): email.utils.collapse_rfc2231_value(val)
                                        for key, val in params[1:]}


def _strip_angles(value: str) -> str:
    value = value.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1]
    return value


def _split_parts(body: bytes, boundary: bytes) -> Iterator[tuple[str | None, str, bytes]]:
    """Yield (content-id, content-type, data) for each part (RFC 2046 §5.1.1)."""
    delimiter = b"--" + boundary
    position = body.find(delimiter)
    if position < 0 or (position > 0 and body[position - 2 : position] != _CRLF):
        raise MtomError("the boundary does not open the multipart body")
    position += len(delimiter)
    inner = _CRLF + delimiter
    while True:
        if body[position : position + 2] == b"--":
            return
        line_end = body.find(_CRLF, position)
        if line_end < 0:
            raise MtomError("truncated multipart body (no line after a boundary)")
        headers_end = body.find(_CRLF + _CRLF, line_end)
        if headers_end < 0:
            raise MtomError("truncated part headers")
        headers = _part_headers(body[line_end + 2 : headers_end])
        data_start = headers_end + 4
        data_end = body.find(inner, data_start)
        if data_end < 0:
            raise MtomError("missing closing boundary")
        cid = headers.get("content-id")
        yield (
            _strip_angles(cid) if cid else None,
            headers.get("content-type", "application/octet-stream"),
            body[data_start:data_end],
        )
        position = data_end + len(inner)


def _part_headers(raw: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    if not raw:
        return headers
    for line in raw.decode("latin-1").split("\r\n"):
        if line[:1] in (" ", "\t") and headers:  # folded header continuation
            last = next(reversed(headers))
            headers[last] += " " + line.strip()
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise MtomError(f"malformed part header line {line[:60]!r}")
        headers[name.strip().lower()] = value.strip()
    return headers


def include_element(content_id: str) -> etree._Element:
    """`<xop:Include href="cid:…"/>` for a part (the cid is URL-escaped per RFC 2392)."""
    element = etree.Element(qname(XOP, "Include"), nsmap={"xop": XOP})
    element.set("href", "cid:" + quote(content_id, safe="@.-_~!$&'()*+,;=:"))
    return element


def include_content_id(element: etree._Element) -> str | None:
    """The Content-ID named by the `xop:Include` child of `element`, or None when inline."""
    include = element.find(qname(XOP, "Include"))
    if include is None:
        return None
    href = include.get("href", "")
    if not href.startswith("cid:"):
        raise MtomError(f"xop:Include href must be a cid: URL, got {href[:60]!r}")
    return unquote(href[4:])


def element_content(element: etree._Element, parts: Mapping[str, bytes]) -> bytes:
    """The bytes an element carries: its XOP part, or its base64 text when sent inline."""
    content_id = include_content_id(element)
    if content_id is not None:
        try:
            return parts[content_id]
        except KeyError:
            raise MtomError(f"xop:Include names cid:{content_id}, which no part carries") from None
    try:
        return base64.b64decode("".join(element.itertext()), validate=False)
    except binascii.Error as exc:
        raise MtomError("inline content is not valid base64") from exc


__all__ = [
    "MtomError",
    "MtomMessage",
    "Part",
    "ParsedMessage",
    "ROOT_CONTENT_ID",
    "build_mtom",
    "element_content",
    "include_content_id",
    "include_element",
    "parse_message",
]
