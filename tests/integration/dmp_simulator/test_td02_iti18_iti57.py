"""TD0.2 answers from the patients file; ITI-18 finds what ITI-41 stored; ITI-57 changes its status."""

from __future__ import annotations

import pytest

from dmp_gateway.dmp import namespaces as ns
from dmp_gateway.dmp_simulator import rejections as codes
from dmp_gateway.dmp_simulator.testkit.messages import (
    Iti41Spec, VihfSpec, build_iti41, iti18_request, iti57_request, td02_request,
)
from dmp_gateway.dmp_simulator.testkit.pki import TestPki, issue

HL7 = ns.HL7


def _td02(answer):
    body = answer.body
    return {
        "ack": body.find(f"{{{HL7}}}acknowledgement/{{{HL7}}}typeCode").get("code"),
        "query": body.find(f".//{{{HL7}}}queryAck/{{{HL7}}}queryResponseCode").get("code"),
        "patient": (body.find(f".//{{{HL7}}}registrationEvent/{{{HL7}}}subject1/{{{HL7}}}patient/{{{HL7}}}statusCode")
                    .get("code") if body.find(f".//{{{HL7}}}registrationEvent") is not None else None),
        "details": [d.get("code") for d in body.iter(f"{{{HL7}}}code") if d.getparent().tag.endswith("acknowledgementDetail")],
    }


@pytest.mark.parametrize(
    "ins, expected",
    [
        ("279035121518989", {"ack": "AA", "query": "OK", "patient": "active", "details": []}),
        ("207058575627097", {"ack": "AA", "query": "OK", "patient": "terminated", "details": ["DMPClosed"]}),
        ("255069999999934", {"ack": "AA", "query": "NF", "patient": None, "details": []}),
        ("180017512345628", {"ack": "AA", "query": "NF", "patient": None, "details": []}),
    ],
    ids=["open", "closed", "state none", "not in the file"],
)
async def test_td02_answers_from_the_patients_file(ins, expected, pki, send):
    answer = await send(td02_request(pki, ins))
    assert answer.http.status_code == 200
    assert answer.header("Action") == ns.ACTION_TD02_RESPONSE
    assert _td02(answer) == expected


async def test_td02_closed_dmp_gives_date_and_reason(pki, send):
    answer = await send(td02_request(pki, "207058575627097"))
    assert answer.body.find(f".//{{{HL7}}}registrationEvent/{{{HL7}}}effectiveTime/{{{HL7}}}high").get("value") == "20240630"
    assert "Fermeture" in answer.body.findtext(f".//{{{HL7}}}acknowledgementDetail/{{{HL7}}}text")


async def test_td02_with_an_invalid_vihf_is_an_application_error(pki, send):
    cx = "279035121518989^^^&1.2.250.1.213.1.4.10&ISO^NH"
    answer = await send(td02_request(pki, "279035121518989", vihf=VihfSpec(cx, issuer="CN=nobody")))
    result = _td02(answer)
    assert (result["ack"], result["query"], result["details"]) == ("AE", "AE", [codes.INVALID_VIHF])


async def test_td02_without_patient_identifier_is_an_application_error(pki, send):
    message = td02_request(pki, "279035121518989")
    value = message.body.find(f".//{{{HL7}}}patientIdentifier/{{{HL7}}}value")
    value.getparent().remove(value)
    result = _td02(await send(message))
    assert (result["ack"], result["query"]) == ("AE", "AE")


async def test_td02_with_a_wrong_action_is_a_fault(pki, send):
    message = td02_request(pki, "279035121518989")
    message.header.find(ns.qname(ns.WSA, "Action")).text = ns.ACTION_ITI41
    answer = await send(message, service=ns.SERVICE_PATIENTS)
    assert answer.http.status_code == 500 and answer.fault_subcode.endswith("ActionNotSupported")


async def _stored(pki, cda_template, send) -> Iti41Spec:
    spec = Iti41Spec(ins="277076322082910")
    assert (await send(build_iti41(pki, cda_template, spec))).success
    return spec


def _objects(answer):
    return answer.body.find(f"{{{ns.RIM}}}RegistryObjectList")


async def test_get_documents_returns_leaf_class_with_hash_and_size(pki, cda_template, send):
    spec = await _stored(pki, cda_template, send)
    answer = await send(iti18_request(pki, spec.ins_cx, unique_ids=[spec.document_uid]))
    assert answer.status == ns.RESPONSE_SUCCESS and answer.header("Action") == ns.ACTION_ITI18_RESPONSE
    [entry] = list(_objects(answer))
    slots = {s.get("name"): s.findtext(f".//{{{ns.RIM}}}Value") for s in entry.findall(f"{{{ns.RIM}}}Slot")}
    assert entry.get("id").startswith("urn:uuid:") and entry.get("status") == ns.STATUS_APPROVED
    assert slots["repositoryUniqueId"] == "1.2.250.1.213.4.1.1.1.2"
    assert slots["hash"] and slots["size"]
    ids = {e.get("identificationScheme"): e.get("value") for e in entry.findall(f"{{{ns.RIM}}}ExternalIdentifier")}
    assert ids[ns.DE_UNIQUE_ID] == spec.document_uid
    assert {e.get("registryObject") for e in entry.findall(f"{{{ns.RIM}}}ExternalIdentifier")} == {entry.get("id")}


async def test_get_documents_of_an_unknown_unique_id_is_empty(pki, send):
    answer = await send(iti18_request(pki, "279035121518989^^^&1.2.250.1.213.1.4.10&ISO^NH", unique_ids=["1.2.3.4.5"]))
    assert answer.status == ns.RESPONSE_SUCCESS and len(_objects(answer)) == 0


async def test_find_documents_returns_object_refs_of_the_patient(pki, cda_template, send):
    spec = await _stored(pki, cda_template, send)
    answer = await send(iti18_request(pki, spec.ins_cx, return_type="ObjectRef"))
    refs = [o for o in _objects(answer) if o.tag == f"{{{ns.RIM}}}ObjectRef"]
    assert len(refs) >= 2  # the document and its signature


async def test_unknown_stored_query(pki, send):
    message = iti18_request(pki, "279035121518989^^^&1.2.250.1.213.1.4.10&ISO^NH", unique_ids=["1.2.3"])
    message.body.find(f"{{{ns.RIM}}}AdhocQuery").set("id", "urn:uuid:00000000-0000-0000-0000-000000000000")
    answer = await send(message)
    assert answer.status == ns.RESPONSE_FAILURE and answer.error_codes == [codes.UNKNOWN_STORED_QUERY]


async def _entry_uuid(pki, spec, send) -> str:
    answer = await send(iti18_request(pki, spec.ins_cx, unique_ids=[spec.document_uid]))
    return _objects(answer)[0].get("id")


async def test_delete_then_find_documents_no_longer_returns_it(pki, cda_template, send, client):
    spec = await _stored(pki, cda_template, send)
    entry_uuid = await _entry_uuid(pki, spec, send)

    answer = await send(iti57_request(pki, spec, entry_uuid))

    assert answer.status == ns.RESPONSE_SUCCESS and answer.header("Action") == ns.ACTION_ITI57_RESPONSE
    listed = (await client.get("/_sim/documents", params={"unique_id": spec.document_uid})).json()["documents"]
    assert listed[0]["status"] == ns.STATUS_DELETED
    found = await send(iti18_request(pki, spec.ins_cx))
    assert entry_uuid not in {o.get("id") for o in _objects(found)}
    again = await send(iti57_request(pki, spec, entry_uuid))  # OriginalStatus Approved no longer holds
    assert again.error_codes == [codes.METADATA_UPDATE_ERROR]


async def test_only_the_author_structure_may_delete(pki, cda_template, send):
    spec = await _stored(pki, cda_template, send)
    entry_uuid = await _entry_uuid(pki, spec, send)
    other = TestPki(pki.ca, issue(pki.ca, "OTHER ORG_SIGN", ou="1120459876"), pki.auth, pki.server)
    intruder = Iti41Spec(ins=spec.ins, structure_id="1120459876")
    answer = await send(iti57_request(other, intruder, entry_uuid))
    assert answer.error_codes == [codes.AUTHENTICATION_ERROR]


async def test_update_of_an_unknown_entry(pki, send):
    spec = Iti41Spec()
    answer = await send(iti57_request(pki, spec, "urn:uuid:6f1b7c56-0000-4000-8000-000000000000"))
    assert answer.error_codes == [codes.UNRESOLVED_REFERENCE]
