"""read, vread, update with If-Match (STU3: 409), history, conditional create (race-free)."""

from concurrent.futures import ThreadPoolExecutor

import orjson

from fhir_payloads import FHIR, PATIENT, outcome


def test_update_creates_versions_and_if_match_guards_them(gateway, ws):
    with gateway.client(ws.token) as c:
        created = c.post("/Patient", content=orjson.dumps(PATIENT), headers=FHIR).json()
        pid = created["id"]
        body = {**created, "name": [{"family": "PAT-TROIS", "given": ["Dominique", "Marie"]}]}
        r = c.put(f"/Patient/{pid}", content=orjson.dumps(body), headers={**FHIR, "If-Match": 'W/"1"'})
        assert r.status_code == 200, r.text
        assert r.headers["etag"] == 'W/"2"' and r.json()["meta"]["versionId"] == "2"
        stale = c.put(f"/Patient/{pid}", content=orjson.dumps(body), headers={**FHIR, "If-Match": 'W/"1"'})
        assert stale.status_code == 409
        assert "current version is 2" in outcome(stale)[0]["diagnostics"]
        assert c.put(f"/Patient/{pid}", content=orjson.dumps(body), headers=FHIR).status_code == 200  # If-Match optional
        assert c.get(f"/Patient/{pid}/_history/1").json()["name"][0]["given"] == ["Dominique"]
        assert c.get(f"/Patient/{pid}").json()["meta"]["versionId"] == "3"
        history = c.get(f"/Patient/{pid}/_history").json()
        assert history["type"] == "history" and [e["resource"]["meta"]["versionId"] for e in history["entry"]] == ["3", "2", "1"]
        assert c.get(f"/Patient/{pid}/_history/9").status_code == 404
        # The update still obeys the profile rules, and the id must match.
        bad = {**body, "birthDate": None}
        del bad["birthDate"]
        assert c.put(f"/Patient/{pid}", content=orjson.dumps(bad), headers=FHIR).status_code == 422
        assert c.put(f"/Patient/{pid}", content=orjson.dumps({**body, "id": "other"}), headers=FHIR).status_code == 400
        # Search sees the current version only.
        assert c.get("/Patient", params={"given": "marie"}).json()["total"] == 1


def test_prefer_return_minimal(gateway, ws):
    with gateway.client(ws.token) as c:
        r = c.post("/Patient", content=orjson.dumps(PATIENT), headers={**FHIR, "Prefer": "return=minimal"})
    assert r.status_code == 201 and r.content == b"" and r.headers["location"] and r.headers["etag"]


def test_conditional_create_is_race_free(gateway, ws):
    nir = "207058575627097"
    body = orjson.dumps({**PATIENT, "identifier": [{"system": "urn:oid:1.2.250.1.213.1.4.10", "value": nir}]})
    headers = {**FHIR, "If-None-Exist": f"identifier=urn:oid:1.2.250.1.213.1.4.10|{nir}"}

    def create(_):
        with gateway.client(ws.token) as c:
            return c.post("/Patient", content=body, headers=headers)

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(create, range(16)))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200] * 15 + [201]
    assert len({r.json()["id"] for r in results}) == 1
    with gateway.client(ws.token) as c:
        assert c.get("/Patient", params={"identifier": nir}).json()["total"] == 1


def test_conditional_create_with_several_matches_is_412(gateway, ws):
    with gateway.client(ws.token) as c:
        for _ in range(2):
            c.post("/Patient", content=orjson.dumps(PATIENT), headers=FHIR)
        r = c.post("/Patient", content=orjson.dumps(PATIENT), headers={**FHIR, "If-None-Exist": "family=PAT-TROIS"})
        assert r.status_code == 412
        r = c.post("/Patient", content=orjson.dumps(PATIENT), headers={**FHIR, "If-None-Exist": "colour=blue"})
        assert r.status_code == 400


def test_concurrent_updates_all_land_as_successive_versions(gateway, ws):
    with gateway.client(ws.token) as c:
        created = c.post("/Patient", content=orjson.dumps(PATIENT), headers=FHIR).json()
    pid = created["id"]

    def update(i):
        body = {**created, "name": [{"family": "PAT-TROIS", "given": ["Dominique", f"V{i}"]}]}
        with gateway.client(ws.token) as c:
            return c.put(f"/Patient/{pid}", content=orjson.dumps(body), headers=FHIR)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(update, range(8)))
    assert [r.status_code for r in results] == [200] * 8
    assert sorted(int(r.json()["meta"]["versionId"]) for r in results) == list(range(2, 10))
    with gateway.client(ws.token) as c:
        assert c.get(f"/Patient/{pid}").json()["meta"]["versionId"] == "9"
        assert c.get("/Patient", params={"given": "v"}).json()["total"] == 1


def test_concurrent_updates_with_the_same_if_match_let_exactly_one_win(gateway, ws):
    with gateway.client(ws.token) as c:
        created = c.post("/Patient", content=orjson.dumps(PATIENT), headers=FHIR).json()

    def update(i):
        with gateway.client(ws.token) as c:
            return c.put(f"/Patient/{created['id']}", content=orjson.dumps(created),
                         headers={**FHIR, "If-Match": 'W/"1"'})

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(r.status_code for r in pool.map(update, range(8)))
    assert statuses == [200] + [409] * 7


def test_version_conflict_status_is_configurable_for_r4_habits(pg_admin_url, tmp_path):
    from dmp_gateway.store.db import create_database
    from gateway_harness import start_gateway

    gw, server = start_gateway(create_database(pg_admin_url, "gw412"), tmp_path, serve_runs_worker=False,
                               version_conflict_status=412)
    try:
        ws = gw.new_workspace()
        with gw.client(ws.token) as c:
            created = c.post("/Patient", content=orjson.dumps(PATIENT), headers=FHIR).json()
            c.put(f"/Patient/{created['id']}", content=orjson.dumps(created), headers=FHIR)
            stale = c.put(f"/Patient/{created['id']}", content=orjson.dumps(created), headers={**FHIR, "If-Match": 'W/"1"'})
        assert stale.status_code == 412 and outcome(stale)[0]["code"] == "conflict"
    finally:
        server.stop()
