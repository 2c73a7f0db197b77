"""OpenAPI 3.1 description of the FHIR surface, built from the tables the route table is built from.

The FHIR routes are plain Starlette routes (app.py), so FastAPI's /openapi.json cannot see them.
This document is derived from RESOURCE_TYPES, SEARCH_PARAMS, READ_ONLY_TYPES, NO_UPDATE_TYPES and
operations.NAMES, and request bodies from the `fhir.resources` STU3 models that validate them, so it
follows the API as those tables change (tests/unit/fhir/test_openapi.py compares it with the router).
Errors are STU3 OperationOutcomes (operationoutcome.html); paths are relative to the FHIR base URL,
which `servers` gives.
"""

from __future__ import annotations

import datetime
import decimal
import types
import typing
from functools import cache

import orjson
from fhir.resources.STU3 import get_fhir_model_class
from starlette.requests import Request
from starlette.responses import Response

from dmp_gateway import __version__
from dmp_gateway.auth.dependencies import scope_for
from dmp_gateway.fhir.interactions import NO_UPDATE_TYPES, READ_ONLY_TYPES
from dmp_gateway.fhir.links import fhir_base
from dmp_gateway.fhir.media import FHIR_JSON, JSON_TYPES
from dmp_gateway.fhir.operations import NAMES as OPERATION_NAMES
from dmp_gateway.fhir.search import MAX_COUNT, MAX_OFFSET
from dmp_gateway.fhir.search_params import SEARCH_PARAMS
from dmp_gateway.fhir.validation import RESOURCE_TYPES, model_for

#: The path of this document under the FHIR base.
PATH = "/openapi.json"
_ID_PATTERN = r"^[A-Za-z0-9\-.]{1,64}$"
_ERRORS = {
    400: "Malformed request: the OperationOutcome names the element (expression) and the rule",
    401: "No valid bearer token",
    403: "The token lacks the scope, or its workspace is not provisioned",
    404: "Unknown resource, id or version in the caller's workspace",
    405: "The interaction is not offered on this resource type",
    406: "Only JSON is served",
    409: "Version conflict, or an operation the delivery's state does not allow",
    410: "The resource was deleted",
    412: "If-None-Exist matched more than one resource",
    413: "The body is larger than the configured limit",
    415: "The body's Content-Type is not supported",
    422: "Profile or business rules failed: every problem is listed",
}
_SEARCH_KINDS = {
    "token": "token: `system|code`, `system|` or `code`; comma-separated values are OR",
    "string": "string: case- and accent-insensitive prefix; `:exact` for exact match",
    "date": "date: YYYY, YYYY-MM or YYYY-MM-DD, prefixed by eq/gt/lt/ge/le/sa/eb",
    "reference": "reference: `Type/id` or `id`",
}


def _ref(kind: str, name: str) -> dict:
    return {"$ref": f"#/components/{kind}/{name}"}


# --- schemas of resources, from the fhir.resources models ------------------------------------------

_SCALARS: dict[object, dict] = {bool: {"type": "boolean"}, int: {"type": "integer"}, float: {"type": "number"},
                                decimal.Decimal: {"type": "number"}, str: {"type": "string"},
                                bytes: {"type": "string"}, datetime.date: {"type": "string"},
                                datetime.datetime: {"type": "string"}, datetime.time: {"type": "string"}}


#: How many levels of complex elements get their own elements listed (deeper ones are plain objects).
_DEPTH = 2


def element_schema(annotation: object, depth: int = _DEPTH - 1) -> dict:
    """The JSON shape of one element's type hint: scalar, array, or object (a complex type's elements)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return element_schema(args[0], depth)
    if origin in (typing.Union, types.UnionType):
        options = [element_schema(a, depth) for a in args if a is not type(None)]
        unique = [o for i, o in enumerate(options) if o not in options[:i]]
        return unique[0] if len(unique) == 1 else {"anyOf": unique}
    if origin is list:
        return {"type": "array", "items": element_schema(args[0], depth) if args else {}}
    if annotation in _SCALARS:
        return dict(_SCALARS[annotation])
    name = getattr(annotation, "__name__", "")
    if depth > 0 and name.endswith("Type") and name != "ResourceType":  # fhir.resources' abc.<Complex>Type
        try:
            return _elements(get_fhir_model_class(name.removesuffix("Type")), depth - 1)
        except ValueError:  # not a STU3 model name: leave it open
            pass
    return {"type": "object"}


def _elements(model: type, depth: int) -> dict:
    properties = {field.alias or name: element_schema(field.annotation, depth)
                  for name, field in model.model_fields.items() if name not in ("resource_type", "fhir_comments")}
    return {"type": "object", "properties": properties, "additionalProperties": False}


@cache
def resource_schema(resource_type: str) -> dict:
    """A resource of `resource_type` with its STU3 elements; unknown elements are a 400, so none are allowed."""
    schema = _elements(model_for(resource_type), _DEPTH - 1)
    schema["properties"].update({"resourceType": {"type": "string", "enum": [resource_type]},
                                 "id": {"type": "string", "pattern": _ID_PATTERN}})
    return {**schema, "required": ["resourceType"],
            "description": f"STU3 {resource_type} (http://hl7.org/fhir/STU3/{resource_type.lower()}.html)"}


def _operation_outcome() -> dict:
    issue = {"type": "object", "required": ["severity", "code"], "properties": {
        "severity": {"type": "string", "enum": ["fatal", "error", "warning", "information"]},
        "code": {"type": "string", "description": "STU3 IssueType, e.g. invalid, required, value, not-found"},
        "diagnostics": {"type": "string", "description": "The rule that failed, in words"},
        "expression": {"type": "array", "items": {"type": "string"},
                       "description": "FHIRPath of the element at fault, e.g. Patient.identifier[0].value"}}}
    return {"type": "object", "required": ["resourceType", "issue"], "properties": {
        "resourceType": {"type": "string", "enum": ["OperationOutcome"]},
        "issue": {"type": "array", "minItems": 1, "items": issue}}}


def _named_resource(resource_type: str, description: str) -> dict:
    return {"type": "object", "required": ["resourceType"], "description": description,
            "properties": {"resourceType": {"type": "string", "enum": [resource_type]}}}


# --- parameters, bodies, responses -----------------------------------------------------------------

def _parameters() -> dict:
    def query(name: str, schema: dict, description: str) -> dict:
        return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}

    return {
        "res_id": {"name": "res_id", "in": "path", "required": True, "description": "Logical id",
                   "schema": {"type": "string", "pattern": _ID_PATTERN}},
        "version": {"name": "version", "in": "path", "required": True, "description": "versionId",
                    "schema": {"type": "string", "pattern": r"^[0-9]+$"}},
        "_format": query("_format", {"type": "string", "enum": ["json", *JSON_TYPES]},
                         "Response format; overrides Accept. XML answers 406"),
        "_elements": query("_elements", {"type": "string"}, "Comma-separated top-level elements to return"),
        "_count": query("_count", {"type": "integer", "minimum": 0},
                        f"Page size (default 20, at most {MAX_COUNT})"),
        "_offset": query("_offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
                         "Index of the page's first match"),
        "If-None-Exist": {"name": "If-None-Exist", "in": "header", "required": False, "schema": {"type": "string"},
                          "description": "Conditional create: a search query, e.g. identifier=system|value"},
        "If-Match": {"name": "If-Match", "in": "header", "required": False,
                     "schema": {"type": "string", "pattern": r'^W/"[0-9]+"$'},
                     "description": 'Version-aware update: W/"<versionId>"'},
    }


def _search_parameter(param) -> dict:  # noqa: ANN001 - search_params.SearchParam
    text = _SEARCH_KINDS[param.kind]
    if param.targets:
        text += f" (to {' or '.join(param.targets)})"
    if param.description:
        text += f"; {param.description}"
    return {"name": param.name, "in": "query", "required": False, "schema": {"type": "string"}, "description": text}


def _fhir_content(schema: dict) -> dict:
    return {media: {"schema": schema} for media in JSON_TYPES}


def _ok(status: int, description: str, schema: dict, *, versioned: bool = True) -> dict:
    out: dict = {"description": description, "content": {FHIR_JSON: {"schema": schema}}}
    if versioned:
        out["headers"] = {"ETag": {"schema": {"type": "string"}, "description": 'W/"<versionId>"'}}
    return {str(status): out}


def _errors(*statuses: int) -> dict:
    return {str(s): _ref("responses", str(s)) for s in sorted(statuses)}


def _operation(op_id: str, summary: str, responses: dict, *, scope: str | None, tag: str,
               parameters: list | None = None, body: dict | None = None) -> dict:
    out: dict = {"operationId": op_id, "summary": summary, "tags": [tag], "responses": responses}
    if parameters:
        out["parameters"] = parameters
    if body:
        out["requestBody"] = body
    if scope is None:
        out["security"] = []
    else:
        out["security"] = [{"bearer": [scope]}]
        out["description"] = f"Needs scope {scope}."
        out["responses"] = {**responses, **_errors(401, 403)}
    return out


def _not_offered(op_id: str, summary: str, tag: str, parameters: list) -> dict:
    return {"operationId": op_id, "summary": summary, "tags": [tag], "parameters": parameters,
            "security": [{"bearer": []}], "responses": _errors(405)}


# --- paths -----------------------------------------------------------------------------------------

def _type_paths(rtype: str) -> dict[str, dict]:
    res = _ref("schemas", rtype)
    bundle = _ref("schemas", "Bundle")
    res_id, version = _ref("parameters", "res_id"), _ref("parameters", "version")
    fmt, elements = _ref("parameters", "_format"), _ref("parameters", "_elements")
    body = {"required": True, "content": _fhir_content(res)}
    type_ops: dict = {}
    instance: dict = {}
    if rtype == "Binary":
        body = {"required": True, "content": {
            **_fhir_content(res), "application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            "description": "The document as raw bytes with its Content-Type, or a FHIR Binary (base64 content)"}
        type_ops["post"] = _operation("create_Binary", "Store a document", {
            **_ok(201, "Created", res), **_errors(400, 413, 415, 422)}, scope=scope_for(rtype, "create"), tag=rtype, body=body)
        raw = {"description": "The bytes with their content type, or FHIR JSON when Accept/_format asks for it",
               "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                           FHIR_JSON: {"schema": res}}}
        instance["get"] = _operation("read_Binary", "Read a document", {"200": raw, **_errors(404, 406)},
                                     scope=scope_for(rtype, "read"), tag=rtype, parameters=[res_id, fmt])
    else:
        if rtype in READ_ONLY_TYPES:
            type_ops["post"] = _not_offered(f"create_{rtype}", f"{rtype} is written by the gateway", rtype, [])
        else:
            type_ops["post"] = _operation(
                f"create_{rtype}", f"Create a {rtype} (conditional with If-None-Exist)",
                {**_ok(201, "Created", res), **_ok(200, "If-None-Exist matched one resource", res),
                 **_errors(400, 406, 412, 413, 415, 422)},
                scope=scope_for(rtype, "create"), tag=rtype, body=body,
                parameters=[_ref("parameters", "If-None-Exist"), fmt])
        instance["get"] = _operation(f"read_{rtype}", f"Read a {rtype}", {**_ok(200, "The resource", res),
                                     **_errors(404, 406, 410)}, scope=scope_for(rtype, "read"), tag=rtype,
                                     parameters=[res_id, fmt, elements])
    search = [_search_parameter(p) for p in SEARCH_PARAMS[rtype].values()]
    type_ops["get"] = _operation(
        f"search_{rtype}", f"Search {rtype} (unknown parameters are ignored unless Prefer: handling=strict)",
        {**_ok(200, "searchset Bundle", bundle, versioned=False), **_errors(400, 406)},
        scope=scope_for(rtype, "search"), tag=rtype,
        parameters=[*search, _ref("parameters", "_count"), _ref("parameters", "_offset"), fmt, elements])
    if rtype in NO_UPDATE_TYPES:
        instance["put"] = _not_offered(f"update_{rtype}", f"{rtype} cannot be updated", rtype, [res_id])
    else:
        instance["put"] = _operation(
            f"update_{rtype}", f"Update a {rtype} (body id must equal the URL id)",
            {**_ok(200, "Updated", res), **_errors(400, 404, 406, 409, 413, 415, 422)},
            scope=scope_for(rtype, "update"), tag=rtype, body={"required": True, "content": _fhir_content(res)},
            parameters=[res_id, _ref("parameters", "If-Match"), fmt])
    instance["delete"] = _not_offered(f"delete_{rtype}", "Not offered: archive with an update", rtype, [res_id])
    read_scope = scope_for(rtype, "read")
    return {
        f"/{rtype}": type_ops,
        f"/{rtype}/{{res_id}}": instance,
        f"/{rtype}/{{res_id}}/_history": {"get": _operation(
            f"history_{rtype}", f"Versions of a {rtype}", {**_ok(200, "history Bundle", bundle, versioned=False),
                                                           **_errors(404, 406)},
            scope=read_scope, tag=rtype, parameters=[res_id, fmt])},
        f"/{rtype}/{{res_id}}/_history/{{version}}": {"get": _operation(
            f"vread_{rtype}", f"One version of a {rtype}", {**_ok(200, "The version", res), **_errors(404, 406, 410)},
            scope=read_scope, tag=rtype, parameters=[res_id, version, fmt])},
    }


def _operation_paths() -> dict[str, dict]:
    cr = _ref("schemas", "CommunicationRequest")
    res_id, fmt = _ref("parameters", "res_id"), _ref("parameters", "_format")
    paths: dict[str, dict] = {}
    for name in OPERATION_NAMES:
        if name == "timeline":
            op = {"get": _operation("op_timeline", "The delivery's state and steps, oldest first",
                                    {**_ok(200, "Parameters", _ref("schemas", "Parameters"), versioned=False),
                                     **_errors(404, 406)},
                                    scope=scope_for("CommunicationRequest", "read"), tag="Delivery",
                                    parameters=[res_id, fmt])}
        else:
            op = {"post": _operation(f"op_{name}", f"${name} the delivery; answers the CommunicationRequest",
                                     {**_ok(200, "The CommunicationRequest as it now stands", cr),
                                      **_errors(404, 406, 409)},
                                     scope=scope_for("CommunicationRequest", "update"), tag="Delivery",
                                     parameters=[res_id, fmt])}
        paths[f"/CommunicationRequest/{{res_id}}/${name}"] = op
    return paths


@cache
def openapi_document() -> dict:
    """The document without `servers` (which depends on the request)."""
    schemas = {rtype: resource_schema(rtype) for rtype in RESOURCE_TYPES}
    schemas["Binary"] = {**schemas["Binary"], "required": ["resourceType", "contentType"]}
    schemas.update({
        "OperationOutcome": _operation_outcome(),
        "Bundle": _named_resource("Bundle", "STU3 Bundle (searchset or history)"),
        "Parameters": _named_resource("Parameters", "STU3 Parameters"),
        "CapabilityStatement": _named_resource("CapabilityStatement", "STU3 CapabilityStatement"),
    })
    paths: dict[str, dict] = {
        "/metadata": {"get": _operation("capabilities", "CapabilityStatement (no token needed)", {
            **_ok(200, "CapabilityStatement", _ref("schemas", "CapabilityStatement"), versioned=False),
            **_errors(406)}, scope=None, tag="Server", parameters=[_ref("parameters", "_format")])},
        PATH: {"get": _operation("openapi", "This document (no token needed)", {"200": {
            "description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}}},
            scope=None, tag="Server")},
    }
    for rtype in RESOURCE_TYPES:
        paths.update(_type_paths(rtype))
    paths.update(_operation_paths())
    outcome = {FHIR_JSON: {"schema": _ref("schemas", "OperationOutcome")}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "dmp-gateway FHIR STU3 API", "version": __version__,
                 "description": "FHIR STU3 (3.0.1) REST API of dmp-gateway; see GET /metadata."},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "parameters": _parameters(),
            "responses": {str(s): {"description": text, "content": outcome} for s, text in _ERRORS.items()},
            "securitySchemes": {"bearer": {
                "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": "Scopes <TYPE>_CREATE|_READ|_SEARCH|_UPDATE, e.g. PATIENT_CREATE; "
                               "client-credentials tokens come from POST /oauth/token at the server root"}},
        },
    }


async def openapi_json(request: Request) -> Response:
    """GET /fhir/v2/openapi.json: the document, with `servers` as the client sees the FHIR base."""
    document = {**openapi_document(), "servers": [{"url": fhir_base(request)}]}
    return Response(orjson.dumps(document), 200, media_type="application/json")
