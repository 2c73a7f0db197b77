"""Search parameters, paging and links behind a proxy (STU3 search.html)."""

import orjson
import pytest

from fhir_payloads import FHIR, PATIENT, outcome, post_seed_resources


def make_patient(c, nir, family, given, birth):
    body = {**PATIENT, "identifier": [{"system": "urn:oid:1.2.250.1.213.1.4.10", "value": nir}],
            "name": [{"family": family, "given": [given]}], "birthDate": birth}
    r = c.post("/Patient", content=orjson.dumps(body), headers=FHIR)
    assert r.status_code == 201, r.text
    return r.json()["id"]


@pytest.fixture
def patients(gateway, ws):
    with gateway.client(ws.token) as c:
        return {
            "heloise": make_patient(c, "279035121518989", "Hélöïse-Dùpont", "Élodie", "1979-03-28"),
            "alain": make_patient(c, "162018885045327", "PAT-SIX", "Alain", "1996-01-12"),
            "corse": make_patient(c, "188102B17295264", "Santoni", "Ghjuvan", "1988-10-01"),
        }


@pytest.mark.parametrize("params,expected", [
    ({"family": "helo"}, {"heloise"}),
    ({"family": "HÉLOÏSE-DUPONT"}, {"heloise"}),
    ({"family:exact": "Hélöïse-Dùpont"}, {"heloise"}),
    ({"family:exact": "heloise-dupont"}, set()),
    ({"given": "elo"}, {"heloise"}),
    ({"family": "pat,santo"}, {"alain", "corse"}),
    ({"identifier": "188102B17295264"}, {"corse"}),
    ({"identifier": "urn:oid:1.2.250.1.213.1.4.10|162018885045327"}, {"alain"}),
    ({"identifier": "urn:oid:1.2.250.1.213.1.4.8|162018885045327"}, set()),
    ({"identifier": "urn:oid:1.2.250.1.213.1.4.10|"}, {"heloise", "alain", "corse"}),
    ({"birthdate": "1979-03-28"}, {"heloise"}),
    ({"birthdate": "1996"}, {"alain"}),
    ({"birthdate": "ge1988-10-01"}, {"alain", "corse"}),
    ({"birthdate": "gt1988"}, {"alain"}),
    ({"birthdate": "le1988"}, {"heloise", "corse"}),
    ({"birthdate": "lt1988-10-01"}, {"heloise"}),
    ({"family": "pat", "birthdate": "1996-01"}, {"alain"}),
    ({"unknown": "ignored"}, {"heloise", "alain", "corse"}),
])
def test_patient_search(gateway, ws, patients, params, expected):
    with gateway.client(ws.token) as c:
        bundle = c.get("/Patient", params=params).json()
    assert bundle["type"] == "searchset"
    names = {k for k, v in patients.items() if v in {e["resource"]["id"] for e in bundle.get("entry", [])}}
    assert names == expected and bundle["total"] == len(expected)


@pytest.mark.parametrize("params,words", [
    ({"birthdate": "28/03/1979"}, "not a date"),
    ({"_count": "many"}, "whole number"),
    ({"family:contains": "x"}, "not supported"),
    ({"_lastUpdated": "yesterday"}, "not a date or instant"),
    ({"_lastUpdated": "2026-02-30"}, "not a valid date"),
    ({"_lastUpdated": "ne2026-02-01"}, "not a date or instant"),
    ({"_id": "a b"}, "not a resource id"),
])
def test_bad_search_syntax_is_400(gateway, ws, params, words):
    with gateway.client(ws.token) as c:
        r = c.get("/Patient", params=params)
    assert r.status_code == 400 and words in outcome(r)[0]["diagnostics"]


def test_strict_handling_refuses_unknown_parameters(gateway, ws):
    with gateway.client(ws.token) as c:
        r = c.get("/Patient", params={"colour": "blue"}, headers={"Prefer": "handling=strict"})
    assert r.status_code == 400 and "colour" in outcome(r)[0]["diagnostics"]


def test_paging_links_follow_the_proxy_headers(gateway, ws, patients):
    proxy = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "gw.example.org", "X-Forwarded-Prefix": "/dmp"}
    with gateway.client(ws.token) as c:
        page1 = c.get("/Patient", params={"_count": 2, "identifier": "urn:oid:1.2.250.1.213.1.4.10|"}, headers=proxy).json()
        links = {link["relation"]: link["url"] for link in page1["link"]}
        assert links["self"].startswith("https://gw.example.org/dmp/fhir/v2/Patient?")
        assert page1["total"] == 3 and len(page1["entry"]) == 2
        assert page1["entry"][0]["fullUrl"].startswith("https://gw.example.org/dmp/fhir/v2/Patient/")
        nxt = links["next"].replace("https://gw.example.org/dmp/fhir/v2", "")
        page2 = c.get(nxt).json()
        assert len(page2["entry"]) == 1 and "next" not in {link["relation"] for link in page2["link"]}
        ids = {e["resource"]["id"] for e in page1["entry"] + page2["entry"]}
        assert ids == set(patients.values())
        assert c.get("/Patient", params={"_count": 5000}).json()["link"][0]["url"].count("_count=200") == 1


def test_document_and_request_searches(gateway, ws):
    with gateway.client(ws.token) as c:
        patient, _, docref, cr = post_seed_resources(c, ws)
        pid = patient.json()["id"]
        for params in ({"subject": f"Patient/{pid}"}, {"patient": pid}, {"type": "http://loinc.org|11488-4"}):
            assert c.get("/DocumentReference", params=params).json()["total"] == 1, params
        assert c.get("/CommunicationRequest", params={"subject": f"Patient/{pid}", "status": "suspended"}).json()["total"] == 1
        assert c.get("/CommunicationRequest", params={"subject": f"Patient/{pid}", "status": "active"}).json()["total"] == 0
        assert c.get("/Communication", params={"based-on": f"CommunicationRequest/{cr.json()['id']}"}).json()["total"] == 0
        assert c.get("/Device", params={"identifier": f"{ws.id}/dmp"}).json()["total"] == 1
        assert c.get("/Organization", params={"identifier": "urn:oid:1.2.250.1.71.4.2.2|123456789"}).json()["total"] == 1
        assert c.get("/Practitioner", params={"identifier": "810002909371"}).json()["total"] == 1


def test_elements_subsets_results(gateway, ws, patients):
    with gateway.client(ws.token) as c:
        bundle = c.get("/Patient", params={"_elements": "birthDate", "family": "pat"}).json()
    resource = bundle["entry"][0]["resource"]
    assert set(resource) == {"resourceType", "id", "meta", "birthDate"}
    assert resource["meta"]["tag"][-1]["code"] == "SUBSETTED"
    assert "_elements=birthDate" in bundle["link"][0]["url"]


def test_search_by_id(gateway, ws, patients):
    with gateway.client(ws.token) as c:
        one = c.get("/Patient", params={"_id": patients["alain"]}).json()
        two = c.get("/Patient", params={"_id": f"{patients['alain']},{patients['corse']},unknown"}).json()
        mixed = c.get("/Patient", params={"_id": patients["alain"], "family": "santo"}).json()
    assert [e["resource"]["id"] for e in one["entry"]] == [patients["alain"]]
    assert {e["resource"]["id"] for e in two["entry"]} == {patients["alain"], patients["corse"]}
    assert mixed["total"] == 0


def test_search_by_last_updated_finds_what_changed_since(gateway, ws, patients):
    """What an integrator polls with: resources written after the last one it saw."""
    with gateway.client(ws.token) as c:
        stamps = {name: c.get(f"/Patient/{pid}").json()["meta"]["lastUpdated"] for name, pid in patients.items()}
        first, last = min(stamps.values()), max(stamps.values())

        def names(value: str) -> set[str]:
            bundle = c.get("/Patient", params={"_lastUpdated": value, "_count": "50"}).json()
            found = {e["resource"]["id"] for e in bundle.get("entry", [])}
            return {k for k, v in patients.items() if v in found}

        assert names(f"ge{first}") == set(patients)
        assert names(f"gt{last}") == set()
        assert names(f"lt{first}") == set()
        assert names(f"le{last}") == set(patients)
        assert names(f"gt{first}") == set(patients) - {k for k, v in stamps.items() if v == first}
        assert names(last) == {k for k, v in stamps.items() if v == last}  # eq: within that millisecond
        assert names(last[:10]) == set(patients)  # the whole day (UTC)
        assert names(f"gt{last[:10]}") == set()
