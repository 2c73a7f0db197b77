"""Responses for resources: ETag, Last-Modified, Location, Prefer and _elements (STU3 http.html)."""

from __future__ import annotations

from datetime import UTC
from email.utils import format_datetime

import orjson
from starlette.requests import Request
from starlette.responses import Response

from dmp_gateway.fhir.links import fhir_base
from dmp_gateway.fhir.media import response_type
from dmp_gateway.fhir.outcomes import Issue, outcome_json
from dmp_gateway.store.resources import StoredResource

_ALWAYS = {"resourceType", "id", "meta"}
SUBSETTED = {"system": "http://hl7.org/fhir/v3/ObservationValue", "code": "SUBSETTED"}


def version_headers(stored: StoredResource) -> dict[str, str]:
    return {"ETag": f'W/"{stored.version}"', "Last-Modified": format_datetime(stored.last_updated.astimezone(UTC), usegmt=True)}


def elements_filter(request: Request) -> set[str] | None:
    raw = request.query_params.get("_elements")
    if not raw:
        return None
    return {e.strip() for e in raw.split(",") if e.strip()}


def subset(content: bytes, elements: set[str] | None) -> bytes:
    """`_elements`: keep the listed top-level elements and mark the copy SUBSETTED (STU3 search.html#elements)."""
    if elements is None:
        return content
    data = orjson.loads(content)
    out = {k: v for k, v in data.items() if k in _ALWAYS or k in elements}
    meta = dict(out.get("meta") or {})
    meta["tag"] = [*meta.get("tag", []), SUBSETTED]
    out["meta"] = meta
    return orjson.dumps(out)


def resource_response(request: Request, stored: StoredResource, status: int = 200, *, location: bool = False) -> Response:
    media = response_type(request)
    headers = version_headers(stored)
    if location:
        headers["Location"] = f"{fhir_base(request)}/{stored.res_type}/{stored.id}/_history/{stored.version}"
    prefer = request.headers.get("prefer", "")
    if "return=minimal" in prefer:
        return Response(status_code=status, headers=headers)
    if "return=OperationOutcome" in prefer:
        body = outcome_json([Issue("informational", f"{stored.res_type}/{stored.id} version {stored.version}",
                                   severity="information")])
        return Response(body, status, headers, media_type=media)
    return Response(subset(stored.content, elements_filter(request)), status, headers, media_type=media)


def json_response(request: Request, body: dict, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status, media_type=response_type(request))
