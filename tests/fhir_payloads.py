"""Payloads and assertions shared by the HTTP tests."""

from __future__ import annotations

import orjson

from dmp_gateway.samples import sample_bytes, seed_bytes

FHIR = {"Content-Type": "application/fhir+json"}
PATIENT = {"resourceType": "Patient",
           "identifier": [{"system": "http://lifen.fr/fhir/Identifier/patient-nir-od", "value": "279035121518989"}],
           "name": [{"family": "PAT-TROIS", "given": ["Dominique"]}], "birthDate": "1979-03-28",
           "multipleBirthInteger": 1}


def outcome(r) -> list[dict]:  # noqa: ANN001
    """The issues of an OperationOutcome answer (and check it is one)."""
    assert r.headers["content-type"].startswith("application/fhir+json")
    body = r.json()
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"]


def seed_patient(nir: str = "279035121518989", family: str = "PAT-TROIS", given: str = "Dominique",
                 birth: str = "1979-03-28") -> bytes:
    return seed_bytes("patient.json", {"xxxxxxxxxxxxxxx": nir, '"xxxxxxx"': orjson.dumps(family).decode(),
                                       '"xxxxxxxx"': orjson.dumps(given).decode(), "YYYY-MM-DD": birth})


def document_reference(patient_id: str, practitioner: str, binary_id: str) -> bytes:
    return sample_bytes("document_reference.json").replace(b"PATIENT_ID", patient_id.encode()) \
        .replace(b"PRACTITIONER_ID", practitioner.split("/")[1].encode()).replace(b"BINARY_ID", binary_id.encode())


def seed_communication_request(ws, patient_id: str, docref_id: str) -> bytes:  # noqa: ANN001
    return seed_bytes("communication_request.json", {
        "Device/xxxxxxxxx": ws.dmp_device, "Device/xxxxxxx": ws.dmp_device,
        "Patient/XXXXXX": f"Patient/{patient_id}", "DocumentReference/xxxxxxxxx": f"DocumentReference/{docref_id}",
        "Practitioner/xxxxxxxxx": ws.practitioner, "Organization/xxxxxxxxx": ws.organization})


def post_seed_resources(c, ws, nir: str = "279035121518989", pdf: bytes | None = None):  # noqa: ANN001, ANN201
    """Patient, Binary, DocumentReference, CommunicationRequest as the seed's client posts them."""
    patient = c.post("/Patient", headers=FHIR, content=seed_patient(nir))
    assert patient.status_code == 201, patient.text
    binary = c.post("/Binary", content=pdf or sample_bytes("compte-rendu.pdf"), headers={"Content-Type": "application/pdf"})
    assert binary.status_code == 201, binary.text
    docref = c.post("/DocumentReference", headers=FHIR,
                    content=document_reference(patient.json()["id"], ws.practitioner, binary.json()["id"]))
    assert docref.status_code == 201, docref.text
    cr = c.post("/CommunicationRequest", headers=FHIR,
                content=seed_communication_request(ws, patient.json()["id"], docref.json()["id"]))
    return patient, binary, docref, cr


def wait_for_communication(c, request_id: str, timeout: float = 30.0) -> dict:  # noqa: ANN001
    """Poll `Communication?based-on=` until the delivery has an outcome (the client's way to learn it)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        bundle = c.get("/Communication", params={"based-on": f"CommunicationRequest/{request_id}"}).json()
        if bundle["total"]:
            return bundle["entry"][0]["resource"]
        if time.monotonic() > deadline:
            timeline = c.get(f"/CommunicationRequest/{request_id}/$timeline").json()
            raise AssertionError(f"no Communication for {request_id} after {timeout}s; timeline: {timeline}")
        time.sleep(0.1)


def request_without_immediate_mode(ws, patient_id: str, docref_id: str) -> bytes:  # noqa: ANN001
    """A CommunicationRequest with no processing-mode tag: it waits for an operator's $send."""
    return orjson.dumps({
        "resourceType": "CommunicationRequest", "status": "suspended",
        "subject": {"reference": f"Patient/{patient_id}"},
        "payload": [{"contentReference": {"reference": f"DocumentReference/{docref_id}"}}],
        "sender": {"reference": ws.practitioner}, "requester": {"agent": {"reference": ws.organization}},
        "recipient": [{"reference": ws.dmp_device}]})
