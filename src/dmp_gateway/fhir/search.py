"""Search interaction (STU3 search.html): query → criteria → searchset Bundle with paging links."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request

from dmp_gateway.fhir.outcomes import bad_request
from dmp_gateway.fhir.search_params import SEARCH_PARAMS
from dmp_gateway.store.resources import Criterion

DEFAULT_COUNT = 20
MAX_COUNT = 200
#: PostgreSQL takes OFFSET as a bigint; deeper offsets were a 500 (tests/integration/fhir/test_fuzz.py).
MAX_OFFSET = 2**31 - 1
#: Result parameters handled here or by the response, never turned into criteria.
_CONTROL = {"_count", "_offset", "_format", "_elements", "_summary", "_pretty"}


def parse_query(request: Request, resource_type: str) -> tuple[list[Criterion], list[tuple[str, str]], int, int]:
    """Criteria, the (name, value) pairs applied (for the self link), _count and _offset.

    Unknown parameters are ignored and left out of `self`, as STU3 allows, unless the client sends
    `Prefer: handling=strict`, which makes them a 400.
    """
    params = SEARCH_PARAMS[resource_type]
    strict = "handling=strict" in request.headers.get("prefer", "")
    criteria: list[Criterion] = []
    applied: list[tuple[str, str]] = []
    for key, value in request.query_params.multi_items():
        if key in _CONTROL:
            continue
        name, _, modifier = key.partition(":")
        param = params.get(name)
        if param is None:
            if strict:
                raise bad_request(f"unknown search parameter {name} for {resource_type}; supported: "
                                  f"{', '.join(sorted(params)) or 'none'}", name)
            continue
        criteria.append(param.criterion(modifier or None, value))
        applied.append((key, value))
    count = _int_param(request, "_count", DEFAULT_COUNT, 0)
    offset = _int_param(request, "_offset", 0, 0, MAX_OFFSET)
    return criteria, applied, min(count, MAX_COUNT), offset


def _int_param(request: Request, name: str, default: int, minimum: int, maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name} must be a whole number, got {raw!r}", name) from None
    if value < minimum:
        raise bad_request(f"{name} must be {minimum} or more", name)
    if maximum is not None and value > maximum:
        raise bad_request(f"{name} must be {maximum} or less", name)
    return value


def page_links(base: str, resource_type: str, applied: list[tuple[str, str]], request: Request,
               count: int, offset: int, total: int) -> list[dict]:
    keep = [(k, v) for k, v in request.query_params.multi_items() if k in ("_elements", "_format", "_summary")]

    def url(at: int) -> str:
        query = urlencode([*applied, *keep, ("_count", str(count)), ("_offset", str(at))])
        return f"{base}/{resource_type}?{query}"

    links = [{"relation": "self", "url": url(offset)}]
    if count and offset + count < total:
        links.append({"relation": "next", "url": url(offset + count)})
    if offset > 0:
        links.append({"relation": "previous", "url": url(max(0, offset - count))})
    return links
