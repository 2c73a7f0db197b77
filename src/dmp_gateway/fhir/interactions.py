"""The REST interactions shared by every resource type (STU3 http.html): create, conditional
create, read, vread, update, history and search. Binary has its own module (binary.py)."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response

from dmp_gateway.auth.dependencies import scope_for
from dmp_gateway.fhir import communication_request as cr_rules
from dmp_gateway.fhir.links import fhir_base
from dmp_gateway.fhir.media import require_json_body, response_type
from dmp_gateway.fhir.outcomes import bad_request, error, not_found, unprocessable
from dmp_gateway.fhir.profiles import RuleContext, rules_for
from dmp_gateway.fhir.references import check_references, resolvable
from dmp_gateway.fhir.responses import elements_filter, resource_response, subset, version_headers
from dmp_gateway.fhir.search import page_links, parse_query
from dmp_gateway.fhir.search_params import SEARCH_PARAMS, index_rows
from dmp_gateway.fhir.security import Caller, authorize
from dmp_gateway.fhir.validation import parse_resource
from dmp_gateway.store.errors import VersionConflict
from dmp_gateway.store.resources import StoredResource

_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
#: versionId as stored (a PostgreSQL integer); str.isdigit() also took "²", which int() refuses (a 500).
_VERSION = re.compile(r"^[0-9]{1,9}$")
#: Written only by the gateway (the delivery outcome); clients read and search them.
READ_ONLY_TYPES = {"Communication"}
#: Changed only through $send, $retry and $cancel once delivery has started.
NO_UPDATE_TYPES = {"Communication", "CommunicationRequest", "Binary"}


def services(request: Request):  # noqa: ANN201 - bootstrap.Services
    return request.app.state.services


def check_id(resource_type: str, res_id: str) -> None:
    if not _ID.match(res_id):
        raise not_found(f"{resource_type}/{res_id} is not a valid id")


def refuse_declared_oversize(request: Request, limit: int) -> None:
    """413 before reading anything when the declared Content-Length is over `limit`."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise error(413, "too-costly", f"the body is {declared} bytes; the limit is {limit} bytes")


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes `limit` (Content-Length first, then counted)."""
    refuse_declared_oversize(request, limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise error(413, "too-costly", f"the body is larger than the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def prepare(request: Request, caller: Caller, resource_type: str,
                  data: dict) -> dict[tuple[str, str], StoredResource]:
    """Apply profile rules, caller checks and reference resolution; 422 lists every problem.

    Returns the referenced resources, as read for the check: the write's hook takes what it needs
    from them (a request's patient) instead of reading them again.
    """
    svc = services(request)
    rules = rules_for(resource_type)
    issues = rules.check(data, RuleContext(nir_consistency=svc.settings.nir_consistency_checks))
    if resource_type == "CommunicationRequest":
        cr_rules.check_caller_may_send(data, caller)
    slots = rules.references(data)
    referenced = await svc.resources.current(resolvable(slots), caller.workspace.id)
    issues += check_references(slots, set(referenced))
    if resource_type == "CommunicationRequest" and not issues:
        issues += cr_rules.check_dmp_routing(data, caller, referenced)
    if issues:
        raise unprocessable(issues)
    return referenced


async def create(request: Request, resource_type: str) -> Response:
    if resource_type in READ_ONLY_TYPES:
        raise error(405, "not-supported", f"{resource_type} resources are written by the gateway; clients read them")
    caller = await authorize(request, scope_for(resource_type, "create"))
    require_json_body(request)
    svc = services(request)
    data = parse_resource(await read_body(request, svc.settings.json_max_bytes), resource_type)
    referenced = await prepare(request, caller, resource_type, data)
    index = index_rows(resource_type, data)
    hook = svc.write_hook(resource_type, caller, data, referenced)
    condition = request.headers.get("if-none-exist")
    if condition:
        criteria, key = conditional_criteria(resource_type, condition)
        stored, created = await svc.resources.conditional_create(
            resource_type, caller.workspace.id, data, index, criteria, key, on_write=hook)
        return resource_response(request, stored, 201 if created else 200, location=created)
    stored = await svc.resources.create(resource_type, caller.workspace.id, data, index, on_write=hook)
    return resource_response(request, stored, 201, location=True)


def conditional_criteria(resource_type: str, condition: str) -> tuple[list, str]:
    """If-None-Exist carries a search query (`identifier=sys|123`); only supported parameters count."""
    query = condition.split("?", 1)[-1]
    pairs = sorted(parse_qsl(query, keep_blank_values=True))
    if not pairs:
        raise bad_request("If-None-Exist must hold search parameters, e.g. identifier=system|value", "If-None-Exist")
    params = SEARCH_PARAMS[resource_type]
    criteria = []
    for key, value in pairs:
        name, _, modifier = key.partition(":")
        if name not in params:
            raise bad_request(f"If-None-Exist uses {name}, which is not a search parameter of {resource_type}",
                              "If-None-Exist")
        criteria.append(params[name].criterion(modifier or None, value))
    return criteria, "&".join(f"{k}={v}" for k, v in pairs)


async def read(request: Request, resource_type: str, res_id: str) -> Response:
    check_id(resource_type, res_id)
    caller = await authorize(request, scope_for(resource_type, "read"))
    stored = await services(request).resources.read(resource_type, res_id, caller.workspace.id)
    return resource_response(request, stored)


async def vread(request: Request, resource_type: str, res_id: str, version: str) -> Response:
    check_id(resource_type, res_id)
    if not _VERSION.match(version):
        raise not_found(f"{resource_type}/{res_id}/_history/{version} is not a valid version")
    caller = await authorize(request, scope_for(resource_type, "read"))
    stored = await services(request).resources.vread(resource_type, res_id, int(version), caller.workspace.id)
    return resource_response(request, stored)


def parse_if_match(header: str | None) -> int | None:
    if header is None:
        return None
    match = re.fullmatch(r'\s*(?:W/)?"?(\d+)"?\s*', header)
    if not match:
        raise bad_request(f'If-Match must be W/"<versionId>", got {header!r}', "If-Match")
    return int(match.group(1))


async def update(request: Request, resource_type: str, res_id: str) -> Response:
    check_id(resource_type, res_id)
    if resource_type in NO_UPDATE_TYPES:
        raise error(405, "not-supported", f"{resource_type} cannot be updated with PUT"
                    + ("; use $send, $retry or $cancel" if resource_type == "CommunicationRequest" else ""))
    caller = await authorize(request, scope_for(resource_type, "update"))
    require_json_body(request)
    svc = services(request)
    data = parse_resource(await read_body(request, svc.settings.json_max_bytes), resource_type)
    if data.get("id") != res_id:
        raise bad_request(f"the body's id ({data.get('id')!r}) must equal the URL's id ({res_id})", f"{resource_type}.id")
    if_match = parse_if_match(request.headers.get("if-match"))
    referenced = await prepare(request, caller, resource_type, data)
    try:
        stored = await svc.resources.update(resource_type, res_id, caller.workspace.id, data,
                                            index_rows(resource_type, data), if_match=if_match,
                                            on_write=svc.write_hook(resource_type, caller, data, referenced))
    except VersionConflict as exc:  # STU3 says 409, R4 412: DMPGW_VERSION_CONFLICT_STATUS decides
        raise error(svc.settings.version_conflict_status, "conflict", str(exc)) from None
    return resource_response(request, stored, 200)


def _entry(base: str, stored: StoredResource, elements: set[str] | None, **extra: object) -> dict:
    return {"fullUrl": f"{base}/{stored.res_type}/{stored.id}",
            "resource": orjson.Fragment(subset(stored.content, elements)), **extra}


async def search(request: Request, resource_type: str) -> Response:
    caller = await authorize(request, scope_for(resource_type, "search"))
    criteria, applied, count, offset = parse_query(request, resource_type)
    rows, total = await services(request).resources.search(resource_type, caller.workspace.id, criteria, count, offset)
    base = fhir_base(request)
    elements = elements_filter(request)
    bundle = {
        "resourceType": "Bundle", "type": "searchset", "total": total,
        "link": page_links(base, resource_type, applied, request, count, offset, total),
        "entry": [_entry(base, r, elements, search={"mode": "match"}) for r in rows],
    }
    return Response(orjson.dumps(bundle), 200, media_type=response_type(request))


async def history(request: Request, resource_type: str, res_id: str) -> Response:
    check_id(resource_type, res_id)
    caller = await authorize(request, scope_for(resource_type, "read"))
    versions = await services(request).resources.history(resource_type, res_id, caller.workspace.id)
    base = fhir_base(request)
    entries = []
    for v in versions:
        headers = version_headers(v)
        entries.append(_entry(base, v, None,
                              request={"method": "POST" if v.version == 1 else "PUT",
                                       "url": resource_type if v.version == 1 else f"{resource_type}/{v.id}"},
                              response={"status": "201" if v.version == 1 else "200", "etag": headers["ETag"],
                                        "lastModified": v.last_updated.isoformat()}))
    bundle = {"resourceType": "Bundle", "type": "history", "total": len(entries),
              "link": [{"relation": "self", "url": f"{base}/{resource_type}/{res_id}/_history"}], "entry": entries}
    return Response(orjson.dumps(bundle), 200, media_type=response_type(request))
