"""Binary (STU3 binary.html): raw bodies streamed in, or STU3 JSON (`content`, R4's `data` tolerated).

A read returns the raw bytes with their content type unless the client asks for FHIR JSON, as
FHIR REST allows for Binary. Bytes live in `binary_chunk`, never whole in the API's memory on the
raw path.
"""

from __future__ import annotations

import binascii
import uuid
from collections.abc import AsyncIterator

import orjson
import pybase64
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from dmp_gateway.fhir.interactions import authorize, check_id, read_body, refuse_declared_oversize, services
from dmp_gateway.fhir.media import bare_type, is_json, response_type, wants_fhir_json
from dmp_gateway.fhir.outcomes import Issue, bad_request, error, unprocessable
from dmp_gateway.fhir.responses import resource_response, version_headers
from dmp_gateway.fhir.validation import check_structure, parse_json
from dmp_gateway.store.binaries import CHUNK_SIZE, blob_created_also, write_blob
from dmp_gateway.store.errors import BlobTooLarge

PDF = "application/pdf"


class _PdfSniffer:
    """Watches a stream go by and says whether it looks like a PDF (header and end-of-file marker)."""

    def __init__(self) -> None:
        self.head = b""
        self.tail = b""

    def feed(self, chunk: bytes) -> None:
        if len(self.head) < 1024:
            self.head += chunk[: 1024 - len(self.head)]
        self.tail = (self.tail + chunk)[-2048:]

    def problem(self) -> str | None:
        if b"%PDF-" not in self.head:
            return "the content is declared application/pdf but does not start with a PDF header (%PDF-)"
        if b"%%EOF" not in self.tail:
            return "the content is declared application/pdf but has no end-of-file marker (%%EOF): truncated?"
        return None


async def create_binary(request: Request) -> Response:
    caller = await authorize(request, "BINARY_CREATE")
    svc = services(request)
    limit = svc.settings.binary_max_bytes
    ctype = request.headers.get("content-type")
    if is_json(ctype):
        declared, chunks = await _from_json(request, limit)
    else:
        declared = bare_type(ctype)
        if not declared:
            raise error(415, "not-supported", "send the document with its Content-Type (e.g. application/pdf), "
                                              "or a FHIR Binary as application/fhir+json")
        chunks = None
    sniffer = _PdfSniffer()

    async def source() -> AsyncIterator[bytes]:
        stream = chunks if chunks is not None else _raw_stream(request, limit)
        async for chunk in stream:
            if declared == PDF:
                sniffer.feed(chunk)
            yield chunk

    content = {"resourceType": "Binary", "contentType": declared}
    # Most documents fit in one chunk: read them whole first, then resource, blob and chunk are one
    # statement (and no connection is held while a slow client uploads). Larger ones are written chunk
    # by chunk as they arrive, in a transaction.
    whole, larger = await _whole_if_within(source(), min(CHUNK_SIZE, limit))

    def refuse_a_broken_pdf() -> None:  # once the sniffer has seen every byte
        if declared == PDF and (problem := sniffer.problem()):
            raise unprocessable([Issue("value", problem, "Binary.content")])

    try:
        if larger is None:
            refuse_a_broken_pdf()
            blob_id = uuid.uuid4()
            stored = await svc.resources.create("Binary", caller.workspace.id, content, [], blob_id=blob_id,
                                                on_write=blob_created_also(blob_id, declared, whole))
        else:
            async with svc.resources.transaction() as conn:
                blob = await write_blob(conn, caller.workspace.id, declared, larger, limit)
                refuse_a_broken_pdf()
                stored = await svc.resources.create("Binary", caller.workspace.id, content, [], blob_id=blob.blob_id,
                                                    conn=conn)
    except BlobTooLarge:
        raise error(413, "too-costly", f"the binary is larger than the limit of {limit} bytes") from None
    return resource_response(request, stored, 201, location=True)


async def _whole_if_within(stream: AsyncIterator[bytes], at_most: int) -> tuple[bytes, AsyncIterator[bytes] | None]:
    """(the content, None) when the stream holds at most `at_most` bytes; else (b"", the whole stream again)."""
    parts: list[bytes] = []
    size = 0
    async for chunk in stream:
        parts.append(chunk)
        size += len(chunk)
        if size > at_most:
            return b"", _chain(parts, stream)
    return b"".join(parts), None


async def _chain(first: list[bytes], rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    for chunk in first:
        yield chunk
    async for chunk in rest:
        yield chunk


async def _raw_stream(request: Request, limit: int) -> AsyncIterator[bytes]:
    refuse_declared_oversize(request, limit)
    async for chunk in request.stream():
        if chunk:
            yield chunk


async def _from_json(request: Request, limit: int) -> tuple[str, AsyncIterator[bytes]]:
    """A JSON Binary: base64 must be decoded whole, so the body limit is the binary limit in base64."""
    data = parse_json(await read_body(request, limit * 4 // 3 + 64 * 1024))
    if not isinstance(data, dict) or data.get("resourceType") != "Binary":
        raise bad_request("the body must be a FHIR Binary (resourceType Binary)", "resourceType")
    if "data" in data and "content" not in data:  # R4 habit, tolerated
        data["content"] = data.pop("data")
    check_structure(data, "Binary")
    try:
        raw = pybase64.b64decode(data["content"], validate=True)
    except (binascii.Error, ValueError):
        raise bad_request("Binary.content is not valid base64", "Binary.content") from None
    if len(raw) > limit:
        raise BlobTooLarge(limit)

    async def one() -> AsyncIterator[bytes]:
        yield raw

    return bare_type(data["contentType"]), one()


async def read_binary(request: Request, res_id: str) -> Response:
    check_id("Binary", res_id)
    caller = await authorize(request, "BINARY_READ")
    svc = services(request)
    stored = await svc.resources.read("Binary", res_id, caller.workspace.id)
    info = await svc.blobs.info(stored.blob_id)
    if wants_fhir_json(request):
        response_type(request)
        body = stored.as_dict()
        body["content"] = pybase64.b64encode(await svc.blobs.read_all(stored.blob_id)).decode()
        stored_json = type(stored)(stored.res_type, stored.id, stored.version, stored.workspace_id,
                                   stored.last_updated, orjson.dumps(body), stored.blob_id)
        return resource_response(request, stored_json)
    headers = {**version_headers(stored), "Content-Length": str(info.size)}
    return StreamingResponse(svc.blobs.stream(stored.blob_id), media_type=info.content_type, headers=headers)
