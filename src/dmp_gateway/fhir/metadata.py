"""CapabilityStatement (STU3 capabilitystatement.html), built from the tables the API really uses."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from dmp_gateway import __version__
from dmp_gateway.fhir.interactions import NO_UPDATE_TYPES, READ_ONLY_TYPES
from dmp_gateway.fhir.links import fhir_base
from dmp_gateway.fhir.responses import json_response
from dmp_gateway.fhir.search_params import SEARCH_PARAMS
from dmp_gateway.fhir.validation import RESOURCE_TYPES

#: Operations on CommunicationRequest instances, registered by fhir/operations/.
OPERATIONS = ("send", "retry", "cancel", "timeline")


def capability_statement(base: str, operations: tuple[str, ...] = ()) -> dict:
    resources = []
    for rtype in RESOURCE_TYPES:
        interactions = ["read", "vread", "history-instance", "search-type"]
        if rtype not in READ_ONLY_TYPES:
            interactions.append("create")
        if rtype not in NO_UPDATE_TYPES:
            interactions.append("update")
        entry: dict = {
            "type": rtype,
            "interaction": [{"code": c} for c in interactions],
            "versioning": "versioned",
            "readHistory": True,
            "updateCreate": False,
            "conditionalCreate": rtype not in READ_ONLY_TYPES,
            "conditionalUpdate": False,
            "conditionalDelete": "not-supported",
            "searchParam": [
                {"name": p.name, "type": p.kind, **({"documentation": p.description} if p.description else {})}
                for p in SEARCH_PARAMS.get(rtype, {}).values()
            ],
        }
        if rtype == "CommunicationRequest" and operations:
            entry["operation"] = [{"name": op, "definition": {"reference": f"OperationDefinition/{op}"}}
                                  for op in operations]
        resources.append(entry)
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-25",
        "kind": "instance",
        "software": {"name": "dmp-gateway", "version": __version__},
        "implementation": {"description": "FHIR STU3 gateway to the French DMP", "url": base},
        "fhirVersion": "3.0.1",
        "acceptUnknown": "no",
        "format": ["application/fhir+json", "application/json", "application/json+fhir"],
        "rest": [{
            "mode": "server",
            "security": {
                "service": [{"coding": [{"system": "http://hl7.org/fhir/restful-security-service",
                                         "code": "OAuth"}]}],
                "description": "Bearer JWT; scopes <TYPE>_CREATE|_READ|_SEARCH|_UPDATE, e.g. PATIENT_CREATE",
            },
            "resource": resources,
        }],
    }


async def metadata(request: Request) -> Response:
    ops = tuple(getattr(request.app.state, "operations", ()))
    return json_response(request, capability_statement(fhir_base(request), ops))
