"""Fuzzing the live gateway from its own OpenAPI document: bad input is a 4xx OperationOutcome, never a 5xx.

schemathesis generates valid and invalid requests (positive and negative modes) for every operation
of GET /fhir/v2/openapi.json; hypothesis runs derandomized with a fixed number of examples, so every
run sends the same requests. Positive cases for instance operations are aimed at resources that exist
(seeded once per module) so that the rules behind the 404 are fuzzed too. /oauth/token is not a FHIR
route: its errors are OAuth JSON (RFC 6749 §5.2), fuzzed with hypothesis directly.
"""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import dataclass

import httpx
import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from dmp_gateway.fhir.openapi import openapi_document
from dmp_gateway.samples import sample_bytes
from fhir_payloads import document_reference, post_seed_resources, seed_communication_request, seed_patient

#: Examples per operation (positive and negative together) of the hypothesis fuzzing phase.
EXAMPLES = 15
#: Bodies get more: they carry most of the rules; ~25 operations take one.
BODY_EXAMPLES = 40
FHIR_JSON_SPELLINGS = ["application/fhir+json", "application/json+fhir"]

schemathesis.serializer.alias(FHIR_JSON_SPELLINGS, "application/json")
schemathesis.serializer.alias("application/pdf", "application/octet-stream")


def _has_body(ctx) -> bool:  # noqa: ANN001 - schemathesis filter context
    return "requestBody" in ctx.operation.definition.raw


def _schema(*, with_bodies: bool, examples: int):  # noqa: ANN202 - schemathesis.BaseSchema
    """One schema per group: the coverage phase (boundary and type-violating values of every element)
    is run on parameters only; on the STU3 bodies it makes tens of thousands of requests."""
    loaded = schemathesis.openapi.from_dict(openapi_document())
    loaded.config.generation.update(modes=list(GenerationMode), max_examples=examples, deterministic=True,
                                    database="none", with_security_parameters=False)
    loaded.config.phases.coverage.enabled = not with_bodies
    return loaded.include(_has_body) if with_bodies else loaded.exclude(_has_body)


parameters_schema = _schema(with_bodies=False, examples=EXAMPLES)
bodies_schema = _schema(with_bodies=True, examples=BODY_EXAMPLES)


@dataclass
class Seeded:
    """A workspace's token, one existing id per type (Communication has none: no worker) and valid bodies."""

    token: str
    ids: dict[str, str]
    bodies: dict[str, dict]


@pytest.fixture(scope="module")
def seeded(gateway) -> Seeded:
    ws = gateway.new_workspace("CH Fuzz")
    with gateway.client(ws.token) as c:
        patient, binary, docref, cr = post_seed_resources(c, ws)
    ids = {"Patient": patient.json()["id"], "Binary": binary.json()["id"], "DocumentReference": docref.json()["id"],
           "CommunicationRequest": cr.json()["id"], "Practitioner": ws.practitioner.split("/")[1],
           "Organization": ws.organization.split("/")[1], "Device": ws.dmp_device.split("/")[1]}
    bodies = {
        "Patient": orjson.loads(seed_patient()), "Practitioner": orjson.loads(sample_bytes("practitioner.json")),
        "DocumentReference": orjson.loads(document_reference(ids["Patient"], ws.practitioner, ids["Binary"])),
        "CommunicationRequest": orjson.loads(seed_communication_request(ws, ids["Patient"], ids["DocumentReference"])),
        "Binary": {"resourceType": "Binary", "contentType": "application/pdf",
                   "content": base64.b64encode(sample_bytes("compte-rendu.pdf")).decode()},
    }
    return Seeded(ws.token, ids, bodies)


def aim_at_existing(case, ids: dict[str, str]) -> None:  # noqa: ANN001 - schemathesis.Case
    """Half of the positive cases on an instance use an id (and version 1) that exists; for PUT the body too."""
    if case.meta and case.meta.generation.mode is not GenerationMode.POSITIVE:
        return
    params = case.path_parameters or {}
    rtype = case.operation.path.split("/")[1]
    if "res_id" not in params or rtype not in ids or len(params["res_id"]) % 2:
        return
    params["res_id"] = ids[rtype]
    if "version" in params:
        params["version"] = "1"
    if case.method == "PUT" and isinstance(case.body, dict):
        case.body["id"] = ids[rtype]


def assert_clear_answer(status: int, content_type: str, content: bytes, where: str) -> None:
    """No 5xx; every 4xx an OperationOutcome whose issues each say what is wrong."""
    assert status < 500, f"{status} for {where}\n{content[:1000]!r}"
    if status >= 400:
        assert content_type.startswith("application/fhir+json"), f"{content_type} for {where}"
        body = orjson.loads(content)
        assert body["resourceType"] == "OperationOutcome", where
        assert body["issue"] and all(i["diagnostics"] and i["code"] for i in body["issue"]), where


def call(case, gateway, seeded: Seeded) -> None:  # noqa: ANN001
    aim_at_existing(case, seeded.ids)
    response = case.call(base_url=gateway.fhir, headers={"Authorization": f"Bearer {seeded.token}"}, timeout=10)
    content_type = {k.lower(): v for k, v in response.headers.items()}.get("content-type", [""])[0]
    assert_clear_answer(response.status_code, content_type, response.content,
                        f"{case.method} {case.formatted_path}\n{case.as_curl_command()}")


_HYPOTHESIS = {"derandomize": True, "database": None, "deadline": None, "suppress_health_check": list(HealthCheck)}


@parameters_schema.parametrize()
@settings(max_examples=EXAMPLES, **_HYPOTHESIS)
def test_parameters_never_make_a_5xx(case, gateway, seeded):  # noqa: ANN001
    call(case, gateway, seeded)


@bodies_schema.parametrize()
@settings(max_examples=BODY_EXAMPLES, **_HYPOTHESIS)
def test_bodies_never_make_a_5xx(case, gateway, seeded):  # noqa: ANN001
    call(case, gateway, seeded)


# --- valid resources with one element broken: reaches the profile rules behind the structure check ---

def element_paths(value: object, at: tuple = ()) -> list[tuple]:
    """Every element's path in a JSON value (keys and list indexes), parents before children."""
    out = [at]
    if isinstance(value, dict):
        for key, item in value.items():
            out += element_paths(item, (*at, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += element_paths(item, (*at, i))
    return out


def mutate(body: dict, path: tuple, replacement: object, delete: bool) -> dict:
    body = copy.deepcopy(body)
    parent = body
    for step in path[:-1]:
        parent = parent[step]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    return body


_junk = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30),
    st.sampled_from(["", " ", "Patient/", "Patient/x/_history/99999999999999999999", "Device/../x", "urn:oid:",
                     "1979-02-30", "279035121518989", "2" * 15, "2A" + "0" * 13, "application/pdf", "W/\"1\""]),
    st.just([]), st.just({}), st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=5), st.text(max_size=5),
                                                                                  max_size=2))


@pytest.mark.parametrize("rtype", ["Patient", "Practitioner", "DocumentReference", "CommunicationRequest", "Binary"])
@given(data=st.data())
@settings(max_examples=40, **_HYPOTHESIS)
def test_broken_valid_resources_never_make_a_5xx(gateway, seeded, rtype, data):  # noqa: ANN001
    valid = seeded.bodies[rtype]
    path = data.draw(st.sampled_from(element_paths(valid)[2:]), label="path")  # not the root nor resourceType
    delete = isinstance(path[-1], str) and data.draw(st.booleans(), label="delete")
    body = mutate(valid, path, None if delete else data.draw(_junk, label="value"), delete)
    with gateway.client(seeded.token) as c:
        # stdlib json: orjson refuses integers past 64 bits, which a client may well send
        r = c.post(f"/{rtype}", content=json.dumps(body), headers={"Content-Type": "application/fhir+json"})
    assert_clear_answer(r.status_code, r.headers.get("content-type", ""), r.content, f"POST /{rtype} {body}")


_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
_token_form = st.dictionaries(
    st.sampled_from(["grant_type", "client_id", "client_secret", "audience", "database_reference", "scope"]),
    st.one_of(_text, st.sampled_from(["client_credentials", "test-app", "s3cret-app", "db-ref-1"])), max_size=6)


@given(form=_token_form, as_json=st.booleans(),
       basic=st.one_of(st.none(), st.binary(min_size=1, max_size=40).map(lambda b: "Basic " + b.hex()),
                       st.tuples(_text, _text).map(lambda p: "Basic " + base64.b64encode(":".join(p).encode()).decode())))
@settings(max_examples=60, **_HYPOTHESIS)
def test_token_endpoint_answers_oauth_errors(gateway, form, as_json, basic):
    headers = {"Authorization": basic} if basic else {}
    with httpx.Client(base_url=gateway.base_url, timeout=10) as client:
        if as_json:
            r = client.post("/oauth/token", content=orjson.dumps(form),
                            headers={**headers, "Content-Type": "application/json"})
        else:
            r = client.post("/oauth/token", data=form, headers=headers)
    assert r.status_code < 500, r.text
    body = r.json()
    if r.status_code >= 400:
        assert set(body) == {"error", "error_description"}, body
    else:
        assert body["token_type"] == "Bearer"
