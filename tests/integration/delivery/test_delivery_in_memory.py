"""The delivery pipeline through the real API, store and worker, against the in-memory DMP port."""

from dmp_gateway.dmp import errors as dmp_errors
from dmp_gateway.dmp.types import DmpState
from fhir_payloads import FHIR, outcome, post_seed_resources, request_without_immediate_mode, wait_for_communication

OPEN, CLOSED, NONE = "279035121518989", "162018885045327", "277076322082910"


def test_open_dmp_delivered_once_and_traced(delivering_gateway, dws, memory_dmp):
    with delivering_gateway.client(dws.token) as c:
        _, _, docref, cr = post_seed_resources(c, dws, nir=OPEN)
        assert cr.status_code == 201, cr.text
        comm = wait_for_communication(c, cr.json()["id"])
        assert comm["status"] == "completed", comm
        assert comm["basedOn"] == [{"reference": f"CommunicationRequest/{cr.json()['id']}"}]
        assert comm["medium"][0]["coding"][0]["code"] == "DMP" and comm["sent"]
        unique_id = comm["identifier"][0]["value"]
        assert [d for d in memory_dmp.documents if d == unique_id] == [unique_id]
        ids = {i["system"].rsplit("/", 1)[1]: i["value"] for i in c.get(f"/DocumentReference/{docref.json()['id']}").json()["identifier"]}
        assert ids["xds-unique-id"] == unique_id
        assert c.get(f"/CommunicationRequest/{cr.json()['id']}").json()["status"] == "completed"
        steps = [p for p in c.get(f"/CommunicationRequest/{cr.json()['id']}/$timeline").json()["parameter"] if p["name"] == "event"]
        names = [next(x["valueCode"] for x in e["part"] if x["name"] == "step") for e in steps]
        assert names == ["received", "queued", "checking_dmp", "building_cda", "submitting", "delivered"]


def test_closed_and_missing_dmps_fail_with_their_reason(delivering_gateway, dws, memory_dmp):
    memory_dmp.set_patient(CLOSED, DmpState.CLOSED, closed_reason="Fermeture à la demande du patient")
    memory_dmp.set_patient(NONE, DmpState.NOT_FOUND)
    with delivering_gateway.client(dws.token) as c:
        for nir, code in ((CLOSED, "dmp-closed"), (NONE, "dmp-not-found")):
            _, _, _, cr = post_seed_resources(c, dws, nir=nir)
            comm = wait_for_communication(c, cr.json()["id"])
            assert comm["status"] == "entered-in-error" and comm["notDone"] is True
            assert comm["notDoneReason"]["coding"][0]["code"] == code
            assert c.get(f"/CommunicationRequest/{cr.json()['id']}").json()["status"] == "suspended"


def test_transient_faults_are_retried_then_delivered(delivering_gateway, dws, memory_dmp):
    memory_dmp.fail_next(dmp_errors.Transient, times=2, operation="submit", code="XDSRepositoryBusy")
    with delivering_gateway.client(dws.token) as c:
        _, _, _, cr = post_seed_resources(c, dws, nir="207058575627097")
        comm = wait_for_communication(c, cr.json()["id"])
        assert comm["status"] == "completed"
        timeline = c.get(f"/CommunicationRequest/{cr.json()['id']}/$timeline").json()["parameter"]
        assert {"name": "attempts", "valueInteger": 3} in timeline


def test_lost_answer_then_duplicate_counts_as_delivered_once(delivering_gateway, dws, memory_dmp):
    memory_dmp.fail_next(dmp_errors.OutcomeUnknown, times=1, operation="submit")
    with delivering_gateway.client(dws.token) as c:
        _, _, _, cr = post_seed_resources(c, dws, nir="188102B17295264")
        comm = wait_for_communication(c, cr.json()["id"])
    assert comm["status"] == "completed"
    assert list(memory_dmp.documents).count(comm["identifier"][0]["value"]) == 1


def test_retries_exhausted_is_dmp_unavailable_then_retry_works(delivering_gateway, dws, memory_dmp):
    memory_dmp.fail_next(dmp_errors.Transient, times=4, operation="submit")
    with delivering_gateway.client(dws.token) as c:
        _, _, _, cr = post_seed_resources(c, dws, nir="255069999999934")
        rid = cr.json()["id"]
        comm = wait_for_communication(c, rid)
        assert comm["notDoneReason"]["coding"][0]["code"] == "dmp-unavailable"
        r = c.post(f"/CommunicationRequest/{rid}/$retry")
        assert r.status_code == 200, r.text
        import time
        deadline = time.monotonic() + 20
        while c.get("/Communication", params={"based-on": rid, "status": "completed"}).json()["total"] == 0:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert c.post(f"/CommunicationRequest/{rid}/$retry").status_code == 409


def test_without_immediate_mode_it_waits_for_send(delivering_gateway, dws, memory_dmp):
    with delivering_gateway.client(dws.token) as c:
        patient, _, docref, _ = post_seed_resources(c, dws, nir=OPEN)
        body = request_without_immediate_mode(dws, patient.json()["id"], docref.json()["id"])
        rid = c.post("/CommunicationRequest", content=body, headers=FHIR).json()["id"]
        params = c.get(f"/CommunicationRequest/{rid}/$timeline").json()["parameter"]
        assert params[0] == {"name": "state", "valueCode": "awaiting_validation"}
        read_only = delivering_gateway.token(dws.id, [dws.practitioner], scopes="COMMUNICATIONREQUEST_READ")
        with delivering_gateway.client(read_only) as ro:
            r = ro.post(f"/CommunicationRequest/{rid}/$send")
            assert r.status_code == 403 and "COMMUNICATIONREQUEST_UPDATE" in outcome(r)[0]["diagnostics"]
        assert c.post(f"/CommunicationRequest/{rid}/$send").status_code == 200
        assert wait_for_communication(c, rid)["status"] == "completed"


def test_cancel_a_waiting_request(delivering_gateway, dws):
    with delivering_gateway.client(dws.token) as c:
        patient, _, docref, _ = post_seed_resources(c, dws, nir=OPEN)
        body = request_without_immediate_mode(dws, patient.json()["id"], docref.json()["id"])
        rid = c.post("/CommunicationRequest", content=body, headers=FHIR).json()["id"]
        r = c.post(f"/CommunicationRequest/{rid}/$cancel")
        assert r.status_code == 200 and r.json()["status"] == "cancelled"
        assert c.post(f"/CommunicationRequest/{rid}/$send").status_code == 409
