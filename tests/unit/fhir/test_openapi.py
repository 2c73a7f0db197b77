"""The FHIR OpenAPI document describes exactly the routes the app registers, and is a loadable 3.1 document."""

import httpx
import jsonschema_rs
import pytest
import schemathesis
from starlette.routing import Route

from dmp_gateway.config import Settings
from dmp_gateway.fhir.app import BASE, create_app
from dmp_gateway.fhir.openapi import PATH, element_schema, openapi_document, resource_schema
from dmp_gateway.fhir.search_params import SEARCH_PARAMS
from dmp_gateway.fhir.validation import RESOURCE_TYPES

METHODS = {"get", "put", "post", "delete", "patch"}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return create_app(Settings(data_dir=tmp_path_factory.mktemp("openapi")))


def fhir_routes(app) -> set[tuple[str, str]]:
    """(method, path under the FHIR base) of every route the router has there; HEAD comes with GET."""
    out = set()
    for route in app.router.routes:
        if isinstance(route, Route) and route.path.startswith(f"{BASE}/"):
            out |= {(m.lower(), route.path.removeprefix(BASE)) for m in route.methods if m.lower() in METHODS}
    return out


def documented(document: dict) -> set[tuple[str, str]]:
    return {(method, path) for path, item in document["paths"].items() for method in item if method in METHODS}


def test_every_fhir_route_is_documented_and_nothing_else(app):
    routes = fhir_routes(app)
    assert len(routes) > 50  # the table really was read
    assert documented(openapi_document()) == routes


def test_operation_ids_are_unique():
    ids = [op["operationId"] for item in openapi_document()["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_search_parameters_come_from_the_table():
    paths = openapi_document()["paths"]
    for rtype, params in SEARCH_PARAMS.items():
        names = {p.get("name") for p in paths[f"/{rtype}"]["get"]["parameters"]}
        assert set(params) <= names, rtype


def test_bodies_follow_the_stu3_models():
    patient = resource_schema("Patient")
    assert patient["properties"]["resourceType"] == {"type": "string", "enum": ["Patient"]}
    assert patient["additionalProperties"] is False
    identifier = patient["properties"]["identifier"]
    assert identifier["type"] == "array" and identifier["items"]["properties"]["value"] == {"type": "string"}
    assert patient["properties"]["multipleBirthInteger"] == {"type": "integer"}
    assert element_schema(bool | None) == {"type": "boolean"}
    binary = openapi_document()["paths"]["/Binary"]["post"]["requestBody"]["content"]
    assert binary["application/pdf"]["schema"] == {"type": "string", "format": "binary"}


def test_errors_are_operation_outcomes_and_schemas_are_valid_json_schema():
    document = openapi_document()
    for name, schema in document["components"]["schemas"].items():
        jsonschema_rs.validator_for(schema)  # raises on an invalid schema
    for status, response in document["components"]["responses"].items():
        assert int(status) >= 400
        assert response["content"]["application/fhir+json"]["schema"] == {
            "$ref": "#/components/schemas/OperationOutcome"}
    for path, item in document["paths"].items():
        for method, op in item.items():
            assert any(s.startswith("4") for s in op["responses"]) or path in ("/metadata", PATH), (method, path)


def test_schemathesis_loads_every_operation():
    schema = schemathesis.openapi.from_dict(openapi_document())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == len(documented(openapi_document()))
    assert {op.path for op in operations} == set(openapi_document()["paths"])
    assert {r for r in RESOURCE_TYPES} <= {op.path.split("/")[1] for op in operations}


async def test_served_without_a_token_with_the_base_as_server(app):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as client:
        r = await client.get(f"{BASE}{PATH}", headers={"X-Forwarded-Proto": "https"})
    assert r.status_code == 200
    body = r.json()
    assert body["openapi"].startswith("3.1")
    assert body["servers"] == [{"url": "https://gw.test/fhir/v2"}]
    assert body["paths"] == openapi_document()["paths"]
