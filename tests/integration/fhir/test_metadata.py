"""The CapabilityStatement lists what is really supported and needs no token."""


def test_capability_statement(gateway):
    with gateway.client() as c:
        r = c.get("/metadata")
    assert r.status_code == 200
    cs = r.json()
    assert cs["resourceType"] == "CapabilityStatement" and cs["fhirVersion"] == "3.0.1"
    resources = {res["type"]: res for res in cs["rest"][0]["resource"]}
    assert set(resources) == {"Patient", "Binary", "DocumentReference", "CommunicationRequest", "Communication",
                              "Practitioner", "Organization", "Device"}
    comm = resources["Communication"]
    assert {"read", "search-type"} <= {i["code"] for i in comm["interaction"]}
    assert "create" not in {i["code"] for i in comm["interaction"]}
    assert {p["name"] for p in comm["searchParam"]} == {"based-on", "status", "subject", "_id", "_lastUpdated"}
    assert {p["name"] for p in resources["Patient"]["searchParam"]} == {
        "identifier", "family", "given", "birthdate", "_id", "_lastUpdated"}
    assert "searchParam" not in resources["Binary"] or resources["Binary"]["searchParam"] == []
    assert cs["rest"][0]["security"]["service"][0]["coding"][0]["code"] == "OAuth"
