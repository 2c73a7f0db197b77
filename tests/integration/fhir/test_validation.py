"""Bad input gets an OperationOutcome naming the field and the rule, with the right status."""

import orjson
import pytest

from fhir_payloads import FHIR, PATIENT, outcome


def post(c, path, body, headers=FHIR):
    return c.post(path, content=body if isinstance(body, bytes) else orjson.dumps(body), headers=headers)


@pytest.mark.parametrize("change,status,expression,words", [
    ({"identifier": [{"system": "http://lifen.fr/fhir/Identifier/patient-nir-od", "value": "279035121518988"}]},
     422, "Patient.identifier[0].value", "control key"),
    ({"identifier": [{"system": "http://lifen.fr/fhir/Identifier/patient-nir-od", "value": "2790351215189"}]},
     422, "Patient.identifier[0].value", "15 characters"),
    ({"identifier": [{"system": "urn:oid:1.2.3", "value": "279035121518989"}]}, 422, "Patient.identifier", "NIR or NIA"),
    ({"name": [{"given": ["X"]}]}, 422, "Patient.name[0].family", "required"),
    ({"name": [{"family": "X"}]}, 422, "Patient.name[0].given", "required"),
    ({"birthDate": None}, 422, "Patient.birthDate", "required"),
    ({"multipleBirthInteger": None}, 422, "Patient.multipleBirthInteger", "required"),
    ({"multipleBirthInteger": 0}, 422, "Patient.multipleBirthInteger", "1 or more"),
    ({"gender": "M"}, 422, "Patient.gender", "one of"),
    ({"birthDate": "1979-13-45"}, 400, "Patient.birthDate", "Date"),
    ({"favouriteColour": "blue"}, 400, "Patient.favouriteColour", "not an element"),
    ({"multipleBirthInteger": "first"}, 400, "Patient.multipleBirthInteger", "integer"),
])
def test_patient_rules(gateway, ws, change, status, expression, words):
    body = {k: v for k, v in {**PATIENT, **change}.items() if v is not None}
    with gateway.client(ws.token) as c:
        r = post(c, "/Patient", body)
    assert r.status_code == status, r.text
    issues = outcome(r)
    assert any(expression in i.get("expression", []) and words in i["diagnostics"] for i in issues), issues


def test_every_problem_is_listed_at_once(gateway, ws):
    with gateway.client(ws.token) as c:
        r = post(c, "/Patient", {"resourceType": "Patient", "identifier": PATIENT["identifier"]})
    assert r.status_code == 422
    paths = {e for i in outcome(r) for e in i.get("expression", [])}
    assert {"Patient.name", "Patient.birthDate", "Patient.multipleBirthInteger"} <= paths


@pytest.mark.parametrize("body,headers,status,words", [
    (b"{not json", FHIR, 400, "not valid JSON"),
    (b"", FHIR, 400, "empty"),
    (b"[1, 2]", FHIR, 400, "JSON object"),
    (orjson.dumps({**PATIENT, "resourceType": "Practitioner"}), FHIR, 400, "resourceType"),
    (orjson.dumps(PATIENT), {"Content-Type": "application/xml"}, 415, "not supported"),
])
def test_malformed_requests(gateway, ws, body, headers, status, words):
    with gateway.client(ws.token) as c:
        r = post(c, "/Patient", body, headers)
    assert r.status_code == status
    assert words in outcome(r)[0]["diagnostics"]


@pytest.mark.parametrize("ctype", ["application/fhir+json", "application/json", "application/json+fhir",
                                   "application/fhir+json; charset=utf-8"])
def test_all_json_spellings_are_accepted_and_answered_alike(gateway, ws, ctype):
    with gateway.client(ws.token) as c:
        r = post(c, "/Patient", PATIENT, {"Content-Type": ctype, "Accept": ctype.split(";")[0]})
    assert r.status_code == 201
    assert r.headers["content-type"].startswith(ctype.split(";")[0])


def test_format_parameter_wins_and_xml_is_refused(gateway, ws):
    with gateway.client(ws.token) as c:
        pid = post(c, "/Patient", PATIENT).json()["id"]
        assert c.get(f"/Patient/{pid}?_format=json").headers["content-type"].startswith("application/fhir+json")
        assert c.get(f"/Patient/{pid}?_format=application/json").headers["content-type"].startswith("application/json")
        assert c.get(f"/Patient/{pid}?_format=xml").status_code == 406


def test_unsupported_interactions(gateway, ws):
    with gateway.client(ws.token) as c:
        pid = post(c, "/Patient", PATIENT).json()["id"]
        assert c.delete(f"/Patient/{pid}").status_code == 405
        r = post(c, "/Communication", {"resourceType": "Communication", "status": "completed"})
        assert r.status_code == 405
        assert c.get("/Observation").status_code == 404
        assert outcome(c.get("/Observation"))[0]["code"] == "not-found"
        assert c.get("/Patient/not valid id!").status_code == 404


def test_json_body_over_the_limit_is_413(gateway, ws):
    big = orjson.dumps({**PATIENT, "text": {"status": "generated", "div": "<div>" + "x" * 3_000_000 + "</div>"}})
    with gateway.client(ws.token) as c:
        r = post(c, "/Patient", big)
    assert r.status_code == 413
