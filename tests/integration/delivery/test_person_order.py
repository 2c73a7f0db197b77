"""A person's requests run one at a time and in the order they were posted, whatever Patient resource each
names: the seed flow posts a Patient per document, so the job lock is the person's INS."""

import asyncio

import orjson
import psycopg

from dmp_gateway.dmp import errors as dmp_errors
from dmp_gateway.fhir.delivery_hook import person_ins
from dmp_gateway.samples import sample_bytes
from fhir_payloads import (FHIR, document_reference, post_seed_resources, seed_communication_request, seed_patient,
                           wait_for_communication)

NIR = "277076322082910"
OTHER_NIR = "188102B17295264"


def _replacement(c, ws, nir: str, replaced_docref: str) -> tuple[str, str]:  # noqa: ANN001
    """A new Patient (the seed's way), its Binary, a DocumentReference replacing `replaced_docref`, the request:
    the new DocumentReference's id and the request's."""
    patient = c.post("/Patient", headers=FHIR, content=seed_patient(nir)).json()["id"]
    binary = c.post("/Binary", content=sample_bytes("compte-rendu.pdf"), headers={"Content-Type": "application/pdf"})
    docref = orjson.loads(document_reference(patient, ws.practitioner, binary.json()["id"]))
    docref["relatesTo"] = [{"code": "replaces", "target": {"reference": f"DocumentReference/{replaced_docref}"}}]
    created = c.post("/DocumentReference", headers=FHIR, content=orjson.dumps(docref))
    assert created.status_code == 201, created.text
    cr = c.post("/CommunicationRequest", headers=FHIR,
                content=seed_communication_request(ws, patient, created.json()["id"]))
    assert cr.status_code == 201, cr.text
    return created.json()["id"], cr.json()["id"]


def _job_locks(database_url: str, request_ids: list[str]) -> list[str]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute("select request_id, job_lock from delivery where request_id = any(%s)",
                            (request_ids,)).fetchall()
    locks = dict(rows)
    return [locks[r] for r in request_ids]


def test_two_patients_with_one_ins_share_a_lock_and_other_people_do_not(delivering_gateway, dws):
    with delivering_gateway.client(dws.token) as c:
        requests = [post_seed_resources(c, dws, nir=nir)[3].json()["id"] for nir in (NIR, NIR, OTHER_NIR)]
        for request_id in requests:
            wait_for_communication(c, request_id)
    first, second, other = _job_locks(delivering_gateway.database_url, requests)
    assert first == second == f"ins:{dws.id}:{NIR}"
    assert other == f"ins:{dws.id}:{OTHER_NIR}"


def test_a_patient_without_a_valid_ins_is_its_own_lock():
    assert person_ins({"identifier": [{"system": "http://lifen.fr/fhir/Identifier/patient-nir-od",
                                       "value": "277 07 63 220 829 10"}]}) == NIR
    assert person_ins({"identifier": [{"system": "http://lifen.fr/fhir/Identifier/patient-nir-od",
                                       "value": "277076322082911"}]}) is None  # wrong control key
    assert person_ins({"identifier": [{"system": "urn:other", "value": NIR}]}) is None
    assert person_ins({}) is None


def test_a_replacement_posted_at_once_waits_for_the_retried_document_it_replaces(delivering_gateway, dws, memory_dmp,
                                                                                  monkeypatch):
    # The first submission takes a while, then meets a busy DMP: the first document waits out a retry. Its
    # replacement, posted meanwhile under a Patient of its own, must run after it (an RPLC of the delivered
    # document), neither beside it nor before its retry, where it would fail with "deliver it first".
    submit = memory_dmp.submit

    async def slow_submit(submission):  # noqa: ANN001, ANN202 - the replacement's job is queued meanwhile
        await asyncio.sleep(0.5)
        return await submit(submission)

    monkeypatch.setattr(memory_dmp, "submit", slow_submit)
    memory_dmp.fail_next(dmp_errors.Transient, times=1, operation="submit", code="XDSRepositoryBusy")
    with delivering_gateway.client(dws.token) as c:
        _, _, first_docref, first = post_seed_resources(c, dws, nir=NIR)
        second_docref, second = _replacement(c, dws, NIR, first_docref.json()["id"])
        waiting = [p for p in c.get(f"/CommunicationRequest/{second}/$timeline").json()["parameter"]
                   if p["name"] == "waitingFor"]
        assert waiting == [{"name": "waitingFor",
                            "valueReference": {"reference": f"CommunicationRequest/{first.json()['id']}"}}]
        first_comm = wait_for_communication(c, first.json()["id"])
        second_comm = wait_for_communication(c, second)
        assert first_comm["status"] == "completed", first_comm
        assert second_comm["status"] == "completed", second_comm.get("notDoneReason")
        summary = {p["name"]: p.get("valueInteger") for p in
                   c.get(f"/CommunicationRequest/{first.json()['id']}/$timeline").json()["parameter"]}
        assert summary["attempts"] == 2  # the busy answer was retried, and the replacement waited for it
        identifiers = {i["system"].rsplit("/", 1)[1]: i["value"]
                       for i in c.get(f"/DocumentReference/{second_docref}").json()["identifier"]}
        done = c.get(f"/CommunicationRequest/{second}/$timeline").json()["parameter"]
    assert identifiers["cda-version-number"] == "2"  # sent as the second version of the first one's set
    assert identifiers["xds-unique-id"] != first_comm["identifier"][0]["value"]
    assert not [p for p in done if p["name"] == "waitingFor"]


def test_retry_after_a_corrected_nir_takes_the_new_persons_lock(delivering_gateway, dws):
    # The typical $retry: the NIR was someone else's (a man's, for a woman), the client corrects the
    # Patient, the operator retries. The request leaves the wrong person's lane for the right one's.
    wrong = orjson.loads(seed_patient(OTHER_NIR)) | {"gender": "female"}  # 1881…: the first digit says male
    with delivering_gateway.client(dws.token) as c:
        patient = c.post("/Patient", headers=FHIR, content=orjson.dumps(wrong)).json()["id"]
        binary = c.post("/Binary", content=sample_bytes("compte-rendu.pdf"), headers={"Content-Type": "application/pdf"})
        docref = c.post("/DocumentReference", headers=FHIR,
                        content=document_reference(patient, dws.practitioner, binary.json()["id"])).json()["id"]
        cr = c.post("/CommunicationRequest", headers=FHIR, content=seed_communication_request(dws, patient, docref))
        request_id = cr.json()["id"]
        comm = wait_for_communication(c, request_id)
        assert comm["notDoneReason"]["coding"][0]["code"] == "invalid-patient-identity", comm
        assert _job_locks(delivering_gateway.database_url, [request_id]) == [f"ins:{dws.id}:{OTHER_NIR}"]
        fixed = orjson.loads(seed_patient(NIR)) | {"id": patient, "gender": "female"}
        assert c.put(f"/Patient/{patient}", headers=FHIR, content=orjson.dumps(fixed)).status_code == 200
        assert c.post(f"/CommunicationRequest/{request_id}/$retry").status_code == 200
        assert wait_for_communication_count(c, request_id, 2)[-1]["status"] == "completed"
    assert _job_locks(delivering_gateway.database_url, [request_id]) == [f"ins:{dws.id}:{NIR}"]


def wait_for_communication_count(c, request_id: str, count: int, timeout: float = 30.0) -> list[dict]:  # noqa: ANN001
    """The request's Communications once there are `count` of them (one per attempt that ended)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        bundle = c.get("/Communication", params={"based-on": f"CommunicationRequest/{request_id}",
                                                 "_sort": "sent"}).json()
        if bundle["total"] >= count:
            return sorted((e["resource"] for e in bundle["entry"]), key=lambda r: r.get("sent") or r["received"])
        assert time.monotonic() < deadline, f"{bundle['total']} Communications for {request_id} after {timeout}s"
        time.sleep(0.1)
