"""OAuth2 scopes, workspace isolation and the seed's sender/requester rules (seed-flow.md §2, §5.2)."""

import orjson

from fhir_payloads import FHIR, PATIENT, outcome, post_seed_resources


def test_missing_or_bad_token_is_401_with_www_authenticate(gateway):
    with gateway.client() as c:
        r = c.get("/Patient")
        assert r.status_code == 401
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert outcome(r)[0]["code"] == "login"
    with gateway.client("not.a.jwt") as c:
        assert c.get("/Patient").status_code == 401


def test_expired_token_is_401(gateway, ws):
    from dmp_gateway.auth.setup import embedded_issuer
    token = embedded_issuer(gateway.settings).user_token(workspace_id=ws.id, identities=[], scopes=["PATIENT_READ"], ttl=-120)
    with gateway.client(token) as c:
        r = c.get("/Patient")
    assert r.status_code == 401


def test_missing_scope_is_403_naming_it(gateway, ws):
    token = gateway.token(ws.id, [ws.practitioner], scopes="PATIENT_READ")
    with gateway.client(token) as c:
        r = c.post("/Patient", content=orjson.dumps(PATIENT), headers=FHIR)
    assert r.status_code == 403
    assert "PATIENT_CREATE" in outcome(r)[0]["diagnostics"]


def test_unprovisioned_workspace_is_403(gateway):
    with gateway.client(gateway.token("no-such-workspace", [])) as c:
        r = c.get("/Patient")
    assert r.status_code == 403
    assert "not provisioned" in outcome(r)[0]["diagnostics"]


def test_other_workspaces_resources_are_invisible(gateway, ws):
    other = gateway.new_workspace("Other clinic")
    with gateway.client(ws.token) as c:
        pid = c.post("/Patient", content=orjson.dumps(PATIENT), headers=FHIR).json()["id"]
    with gateway.client(other.token) as c:
        assert c.get(f"/Patient/{pid}").status_code == 404
        assert c.get(f"/Patient/{pid}/_history").status_code == 404
        assert c.get(f"/Patient/{pid}/_history/1").status_code == 404
        assert c.get("/Patient", params={"identifier": "279035121518989"}).json()["total"] == 0
        body = {**PATIENT, "id": pid}
        assert c.put(f"/Patient/{pid}", content=orjson.dumps(body), headers=FHIR).status_code == 404
        # ...and cannot be referenced either.
        docref = {"resourceType": "DocumentReference", "status": "current", "subject": {"reference": f"Patient/{pid}"},
                  "type": {"coding": [{"system": "http://loinc.org", "code": "11488-4"}]},
                  "content": [{"attachment": {"url": "Binary/nope", "contentType": "application/pdf"}}]}
        r = c.post("/DocumentReference", content=orjson.dumps(docref), headers=FHIR)
        assert r.status_code == 422
        diagnostics = " ".join(i["diagnostics"] for i in outcome(r))
        assert f"Patient/{pid}, which does not exist in this workspace" in diagnostics
        assert "Binary/nope" in diagnostics


def _cr(ws, patient, docref, **changes):
    cr = {"resourceType": "CommunicationRequest", "status": "suspended",
          "subject": {"reference": patient}, "payload": [{"contentReference": {"reference": docref}}],
          "sender": {"reference": ws.practitioner}, "requester": {"agent": {"reference": ws.organization}},
          "recipient": [{"reference": ws.dmp_device}]}
    cr.update(changes)
    return orjson.dumps(cr)


def test_communication_request_sender_and_requester_are_checked(gateway, ws):
    with gateway.client(ws.token) as c:
        patient, _, docref, cr = post_seed_resources(c, ws)
        p, d = f"Patient/{patient.json()['id']}", f"DocumentReference/{docref.json()['id']}"
        r = c.post("/CommunicationRequest", headers=FHIR, content=_cr(ws, p, d, sender={"reference": "Practitioner/someone-else"}))
        assert r.status_code == 403 and "sender" in outcome(r)[0]["diagnostics"]
        r = c.post("/CommunicationRequest", headers=FHIR,
                   content=_cr(ws, p, d, requester={"agent": {"reference": "Organization/another"}}))
        assert r.status_code == 403 and "requester" in outcome(r)[0]["diagnostics"]
        # The bare workspace id is accepted as the requester too.
        r = c.post("/CommunicationRequest", headers=FHIR, content=_cr(ws, p, d, requester={"agent": {"reference": ws.organization}}))
        assert r.status_code == 201, r.text


def test_communication_request_must_target_the_workspace_dmp_device(gateway, ws):
    other = gateway.new_workspace("Other")
    with gateway.client(ws.token) as c:
        patient, _, docref, _ = post_seed_resources(c, ws)
        p, d = f"Patient/{patient.json()['id']}", f"DocumentReference/{docref.json()['id']}"
        r = c.post("/CommunicationRequest", headers=FHIR, content=_cr(ws, p, d, recipient=[{"reference": other.dmp_device}]))
        assert r.status_code == 422
        assert "CommunicationRequest.recipient[0]" in outcome(r)[0]["expression"]
        r = c.post("/CommunicationRequest", headers=FHIR, content=_cr(ws, p, d, recipient=[{"reference": p}]))
        assert r.status_code == 422 and "must reference Device" in outcome(r)[0]["diagnostics"]
        r = c.post("/CommunicationRequest", headers=FHIR, content=_cr(ws, p, d, payload=[], recipient=[]))
        paths = {e for i in outcome(r) for e in i.get("expression", [])}
        assert {"CommunicationRequest.payload", "CommunicationRequest.recipient"} <= paths
        r = c.post("/CommunicationRequest", headers=FHIR, content=_cr(ws, p, d, status="completed"))
        assert r.status_code == 422 and "status" in outcome(r)[0]["expression"][0]


def test_payload_must_be_about_the_same_patient(gateway, ws):
    with gateway.client(ws.token) as c:
        _, _, docref, _ = post_seed_resources(c, ws)
        other = c.post("/Patient", content=orjson.dumps({**PATIENT, "identifier": [
            {"system": "urn:oid:1.2.250.1.213.1.4.10", "value": "162018885045327"}]}), headers=FHIR).json()["id"]
        r = c.post("/CommunicationRequest", headers=FHIR,
                   content=_cr(ws, f"Patient/{other}", f"DocumentReference/{docref.json()['id']}"))
    assert r.status_code == 422
    assert "not the request's subject" in outcome(r)[0]["diagnostics"]


def test_application_token_from_client_credentials(gateway):
    import httpx

    client_id, secret, workspace = gateway.app_client
    form = {"client_id": client_id, "client_secret": secret, "grant_type": "client_credentials",
            "audience": gateway.settings.oidc_audience, "database_reference": "db-ref-1"}
    bad = httpx.post(f"{gateway.base_url}/oauth/token", data={**form, "client_secret": "wrong"})
    assert bad.status_code == 401 and bad.json()["error"] == "access_denied"
    no_db = httpx.post(f"{gateway.base_url}/oauth/token", data={k: v for k, v in form.items() if k != "database_reference"})
    assert no_db.status_code == 400 and "database_reference" in no_db.json()["error_description"]
    r = httpx.post(f"{gateway.base_url}/oauth/token", data=form)
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    assert r.json()["token_type"] == "Bearer" and "PATIENT_CREATE" in r.json()["scope"]
    with gateway.client(token) as c:
        r = c.post("/Patient", content=orjson.dumps(PATIENT), headers=FHIR)
        assert r.status_code == 201
        # An application sends as its healthcare organization, not as a practitioner.
        assert c.get(f"/Organization/{workspace}").status_code == 200
