"""The seed flow end to end: real gateway, worker and simulator processes, mutual TLS, signed messages.

Each scenario ends in the Communication a client reads (`GET Communication?based-on=`), and the
simulated DMP is asked what it holds: a document is there exactly once, or not at all.
"""

from dataclasses import replace

import orjson
import pytest
from lxml import etree

from e2e_stack import CLOSED, NO_DMP, OPEN, OPEN_2, OPEN_3, post_flow, timeline
from fhir_payloads import FHIR, seed_patient, wait_for_communication

HL7 = {"hl7": "urn:hl7-org:v3"}


def reason(comm: dict) -> tuple[str, str]:
    assert comm["status"] == "entered-in-error" and comm["notDone"] is True, comm
    return comm["notDoneReason"]["coding"][0]["code"], comm["notDoneReason"]["text"]


def delivered_unique_id(comm: dict) -> str:
    assert comm["status"] == "completed", comm.get("notDoneReason")
    return comm["identifier"][0]["value"]


def test_open_dmp_is_delivered_once_with_the_cda_the_gateway_built(stack, ws, fhir, tmp_path):
    flow = post_flow(fhir, ws, nir=OPEN)
    comm = wait_for_communication(fhir, flow.request_id)
    unique_id = delivered_unique_id(comm)
    assert comm["basedOn"] == [{"reference": f"CommunicationRequest/{flow.request_id}"}] and comm["sent"]
    assert comm["recipient"] == [{"reference": ws.dmp_device}]
    [held] = stack.sim_documents(unique_id=unique_id)
    assert held["patient"] == OPEN and held["status"].endswith(":Approved")
    assert fhir.get(f"/CommunicationRequest/{flow.request_id}").json()["status"] == "completed"
    docref = fhir.get(f"/DocumentReference/{flow.document_reference_id}").json()
    assert unique_id in [i["value"] for i in docref["identifier"]]
    # What the DMP received is byte for byte what `dmp-gateway cda` shows the operator.
    stack.cli("cda", f"CommunicationRequest/{flow.request_id}", "--output", str(tmp_path / "sent.xml"))
    assert stack.sim_content(held) == (tmp_path / "sent.xml").read_bytes()
    summary, events = timeline(fhir, flow.request_id)
    assert summary == {"state": "delivered", "attempts": 1, "uniqueId": unique_id}
    assert [e["step"] for e in events] == ["received", "queued", "checking_dmp", "building_cda", "submitting",
                                           "delivered"]


@pytest.mark.parametrize(("nir", "code", "words"), [
    (CLOSED, "dmp-closed", "the DMP was closed on 2024-06-30"),
    (NO_DMP, "dmp-not-found", "the patient has no DMP"),
])
def test_a_closed_or_missing_dmp_ends_in_error_and_nothing_is_sent(stack, ws, fhir, nir, code, words):
    flow = post_flow(fhir, ws, nir=nir)
    got, text = reason(wait_for_communication(fhir, flow.request_id))
    assert got == code and words in text
    assert fhir.get(f"/CommunicationRequest/{flow.request_id}").json()["status"] == "suspended"
    assert stack.sim_documents(patient=nir) == []


def test_a_sender_without_rpps_gets_the_builders_reason(stack, ws, fhir):
    body = {"resourceType": "Practitioner", "name": [{"family": "SANS-RPPS", "given": ["Paul"]}]}
    practitioner = f"Practitioner/{fhir.post('/Practitioner', content=orjson.dumps(body), headers=FHIR).json()['id']}"
    no_rpps = replace(ws, practitioner=practitioner, token=stack.token(ws.id, [practitioner]))
    accepted = stack.sim_stats()["iti41"].get("accepted", 0)
    with stack.client(no_rpps.token) as c:
        flow = post_flow(c, no_rpps, nir=OPEN_2)
        code, text = reason(wait_for_communication(c, flow.request_id))
    assert code == "cda-invalid"
    assert f"{practitioner} has no RPPS identifier" in text and "Fix the listed data" in text
    assert stack.sim_stats()["iti41"].get("accepted", 0) == accepted


def test_a_nir_contradicting_the_patients_sex_is_an_identity_problem(stack, ws, fhir):
    patient = orjson.loads(seed_patient(OPEN))
    patient["gender"] = "male"  # 279… : the first digit 2 says female
    flow = post_flow(fhir, ws, patient=orjson.dumps(patient))
    code, text = reason(wait_for_communication(fhir, flow.request_id))
    assert code == "invalid-patient-identity"
    assert "the NIR's first digit 2 says female but the patient's sex is male" in text


def test_thirty_percent_of_failing_dmp_calls_are_retried_to_one_copy_each(stack, ws, fhir, healthy_dmp):
    stack.set_faults({"seed": 20261125, "busy": 0.1, "http_500": 0.1, "drop": 0.1})
    flows = [post_flow(fhir, ws, nir=nir) for nir in (OPEN, OPEN_2, OPEN_3) * 2]
    comms = [wait_for_communication(fhir, f.request_id, timeout=120) for f in flows]
    for comm in comms:
        assert len(stack.sim_documents(unique_id=delivered_unique_id(comm))) == 1
    injected = stack.sim_stats()["faults"]
    assert sum(injected.get(k, 0) for k in ("busy", "http_500", "drop")) > 0, injected
    attempts = [timeline(fhir, f.request_id)[0]["attempts"] for f in flows]
    assert max(attempts) > 1, attempts


@pytest.mark.parametrize("mode", ["drop", "http_500", "soap_fault", "busy"])
def test_committed_then_failed_is_delivered_once_after_an_iti18_lookup(stack, ws, fhir, healthy_dmp, mode):
    stack.set_faults({"services": ["repository"], "next": ["commit_then_fail"], "commit_then_fail_mode": mode})
    flow = post_flow(fhir, ws, nir=OPEN_3)
    unique_id = delivered_unique_id(wait_for_communication(fhir, flow.request_id, timeout=60))
    assert len(stack.sim_documents(unique_id=unique_id)) == 1
    summary, events = timeline(fhir, flow.request_id)
    steps = [e["step"] for e in events]
    assert summary["attempts"] == 2 and steps[-1] == "delivered" and "retry_scheduled" in steps
    assert "ITI-18 hash matches" in events[-1]["details"]


def test_a_replacement_is_sent_as_rplc_and_deprecates_the_first_version(stack, ws, fhir):
    first = post_flow(fhir, ws, nir=OPEN_2)
    old_id = delivered_unique_id(wait_for_communication(fhir, first.request_id))
    second = post_flow(fhir, ws, patient_id=first.patient_id, replaces=first.document_reference_id)
    new_id = delivered_unique_id(wait_for_communication(fhir, second.request_id))
    assert new_id != old_id
    [new] = stack.sim_documents(unique_id=new_id)
    [old] = stack.sim_documents(unique_id=old_id)
    assert new["status"].endswith(":Approved") and old["status"].endswith(":Deprecated")
    cda = etree.fromstring(stack.sim_content(new))
    assert cda.xpath("//hl7:relatedDocument[@typeCode='RPLC']/hl7:parentDocument/hl7:id/@root", namespaces=HL7) \
        == [old_id]
    assert cda.xpath("/hl7:ClinicalDocument/hl7:versionNumber/@value", namespaces=HL7) == ["2"]
