"""Content negotiation (FHIR STU3 http.html#mime-type): JSON only, three spellings, `_format` wins.

Requests may use `application/fhir+json` (STU3), `application/json+fhir` (DSTU2 habit) or
`application/json`; answers use the spelling the client asked for, `application/fhir+json` by default.
"""

from __future__ import annotations

from starlette.requests import Request

from dmp_gateway.fhir.outcomes import error

FHIR_JSON = "application/fhir+json"
JSON_TYPES = (FHIR_JSON, "application/json+fhir", "application/json")
_FORMAT_ALIASES = {"json": FHIR_JSON, "application/json": "application/json", FHIR_JSON: FHIR_JSON,
                   "application/json+fhir": "application/json+fhir", "application/fhir json": FHIR_JSON}
_XML = ("xml", "application/fhir+xml", "application/xml", "text/xml", "application/xml+fhir")


def bare_type(header: str | None) -> str:
    return (header or "").split(";", 1)[0].strip().lower()


def is_json(content_type: str | None) -> bool:
    return bare_type(content_type) in JSON_TYPES


def require_json_body(request: Request) -> None:
    """415 unless the body is declared as one of the JSON spellings."""
    ctype = bare_type(request.headers.get("content-type"))
    if ctype not in JSON_TYPES:
        raise error(415, "not-supported",
                    f"Content-Type {ctype or '(none)'} is not supported; send application/fhir+json")


def response_type(request: Request) -> str:
    """The JSON spelling to answer with; 406 when the client wants only XML."""
    fmt = request.query_params.get("_format")
    if fmt:
        fmt = fmt.strip().lower()
        if fmt in _FORMAT_ALIASES:
            return _FORMAT_ALIASES[fmt]
        if fmt in _XML:
            raise error(406, "not-supported", "only JSON is supported (_format=json)")
        raise error(400, "invalid", f"_format={fmt} is not a known format", "_format")
    accept = request.headers.get("accept", "")
    wanted = [bare_type(part) for part in accept.split(",") if part.strip()]
    for media in wanted:
        if media in JSON_TYPES:
            return media
    if wanted and all(m in _XML for m in wanted):
        raise error(406, "not-supported", "only JSON is supported; ask for application/fhir+json")
    return FHIR_JSON


def wants_fhir_json(request: Request) -> bool:
    """For Binary reads: FHIR JSON only when explicitly asked (Accept or _format), else raw bytes."""
    fmt = request.query_params.get("_format")
    if fmt:
        return fmt.strip().lower() in _FORMAT_ALIASES
    accept = request.headers.get("accept", "")
    return any(bare_type(part) in JSON_TYPES for part in accept.split(","))
