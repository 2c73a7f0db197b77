"""The seed's four resources, posted as a Lifen v2 client sends them (seed-flow.md §3-5)."""

import orjson

from dmp_gateway.samples import seed_bytes
from fhir_payloads import FHIR, post_seed_resources


def test_seed_json_is_accepted_byte_for_byte(gateway, ws):
    with gateway.client(ws.token) as c:
        patient, binary, docref, cr = post_seed_resources(c, ws)
        assert cr.status_code == 201, cr.text
        body = cr.json()
        assert body["meta"]["versionId"] == "1"
        assert body["meta"]["tag"][0]["code"] == "IMMEDIATE_MODE"
        assert cr.headers["location"].endswith(f"/CommunicationRequest/{body['id']}/_history/1")
        assert cr.headers["etag"] == 'W/"1"'
        # The stored Patient keeps the seed's tag and identifier.
        read = c.get(f"/Patient/{patient.json()['id']}")
        assert read.json()["meta"]["tag"] == [{"system": "https://www.lifen.fr/default", "code": "DEFAULT",
                                               "display": "Default tag"}]
        assert read.json()["identifier"][0]["value"] == "279035121518989"
        assert docref.json()["indexed"]  # server-set (STU3 1..1)


def test_seed_patient_with_lifen_v3_extras_is_accepted(gateway, ws):
    data = orjson.loads(seed_bytes("patient.json", {"xxxxxxxxxxxxxxx": "188102B17295264", "YYYY-MM-DD": "1988-10-01"}))
    data["gender"] = "male"
    data["extension"] = [{"url": "http://hl7.org/fhir/StructureDefinition/birthPlace",
                          "valueAddress": {"district": "2B172"}}]
    with gateway.client(ws.token) as c:
        r = c.post("/Patient", headers=FHIR, content=orjson.dumps(data))
    assert r.status_code == 201, r.text
