"""Structural validation of request bodies against the STU3 models of `fhir.resources`.

Parsing failures and basic FHIR rule violations (unknown element, wrong type, bad date) are 400, as
STU3 http.html#create says; profile and business rules (profiles.py) are 422.
"""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from functools import cache

import orjson
from pydantic import ValidationError

from dmp_gateway.fhir.outcomes import FhirError, Issue, bad_request

#: Resource types the API serves, with their fhir.resources STU3 module.
RESOURCE_TYPES = {
    "Patient": "patient", "Binary": "binary", "DocumentReference": "documentreference",
    "CommunicationRequest": "communicationrequest", "Communication": "communication",
    "Practitioner": "practitioner", "Organization": "organization", "Device": "device",
}


@cache
def model_for(resource_type: str):  # noqa: ANN201 - a fhir.resources model class
    module = importlib.import_module(f"fhir.resources.STU3.{RESOURCE_TYPES[resource_type]}")
    return getattr(module, resource_type)


def load_models() -> None:
    """Import every served type's model now, as a server does before its first request."""
    for resource_type in RESOURCE_TYPES:
        model_for(resource_type)


def parse_json(body: bytes) -> object:
    if not body.strip():
        raise bad_request("the request body is empty; send a FHIR resource as JSON")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"the request body is not valid JSON: {exc}") from None


def parse_resource(body: bytes, expected_type: str) -> dict:
    """The body as a dict of the expected type, structurally valid, or a 400 naming every problem."""
    data = parse_json(body)
    if not isinstance(data, dict):
        raise bad_request("the request body must be a JSON object (a FHIR resource)")
    actual = data.get("resourceType")
    if actual != expected_type:
        raise bad_request(f"resourceType is {actual!r} but this endpoint takes {expected_type}", "resourceType")
    _apply_server_defaults(data)
    check_structure(data, expected_type)
    return data


def _apply_server_defaults(data: dict) -> None:
    """Elements STU3 requires that the server fills when the client leaves them out (lenient)."""
    if data["resourceType"] == "DocumentReference" and "indexed" not in data:
        data["indexed"] = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def check_structure(data: dict, resource_type: str) -> None:
    try:
        model_for(resource_type).model_validate(data)
    except ValidationError as exc:
        raise FhirError(400, [_issue(resource_type, err) for err in exc.errors()[:20]]) from None
    except (ValueError, TypeError) as exc:  # fhir.resources raises these from some root validators
        raise bad_request(f"{resource_type} is not valid: {exc}") from None


def _issue(resource_type: str, err: dict) -> Issue:
    path = fhirpath(resource_type, err.get("loc", ()))
    kind = err.get("type", "")
    message = err.get("msg", "invalid value")
    if kind == "extra_forbidden":
        return Issue("structure", f"{path} is not an element of STU3 {resource_type}", path)
    if kind == "missing":
        return Issue("required", f"{path} is required", path)
    return Issue("value", f"{path}: {message.removeprefix('Value error, ')}", path)


def fhirpath(resource_type: str, loc: tuple) -> str:
    """Pydantic's error location as a FHIRPath, e.g. Patient.identifier[0].value."""
    out = resource_type
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and part.replace("_", "").replace("-", "").isalnum() and "[" not in part:
            out += f".{part}"
    return out
