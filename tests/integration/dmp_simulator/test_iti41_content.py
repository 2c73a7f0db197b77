"""ITI-41 rules on what was sent: bytes vs hash/size, patient, structure, CDA, XAdES, uniqueness."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from lxml import etree

from dmp_gateway.dmp import namespaces as ns
from dmp_gateway.dmp_simulator import rejections as codes
from dmp_gateway.dmp_simulator.testkit.messages import Iti41Spec, build_iti41, reference_cda

RIM = ns.RIM


def _slot(request, entry_id, name):
    return request.entry(entry_id).find(f"{{{RIM}}}Slot[@name='{name}']/{{{RIM}}}ValueList/{{{RIM}}}Value")


def _replace_cda(request, cda: bytes) -> None:
    """Send other CDA bytes with a consistent hash and size: only the XAdES manifest disagrees."""
    request.message.parts["0.2"] = cda
    _slot(request, "Document01", "hash").text = hashlib.sha1(cda).hexdigest().upper()
    _slot(request, "Document01", "size").text = str(len(cda))


def _replace_signature(request, signature: bytes) -> None:
    """Send another signature document with a consistent hash and size: only the XAdES itself is judged."""
    request.message.parts["0.3"] = signature
    _slot(request, "Signature01", "hash").text = hashlib.sha1(signature).hexdigest().upper()
    _slot(request, "Signature01", "size").text = str(len(signature))


async def _accepted(send, request) -> None:
    answer = await send(request)
    assert answer.success, (answer.error_codes, answer.contexts)


async def test_hash_that_does_not_match_the_document(pki, cda_template, send):
    request = build_iti41(pki, cda_template)
    _slot(request, "Document01", "hash").text = "0" * 40
    answer = await send(request)
    assert answer.error_codes == [codes.REPOSITORY_METADATA_ERROR] and "hash" in answer.contexts[0]
    await _accepted(send, build_iti41(pki, cda_template))


async def test_size_that_does_not_match_the_document(pki, cda_template, send):
    request = build_iti41(pki, cda_template)
    _slot(request, "Signature01", "size").text = "12"
    answer = await send(request)
    assert answer.error_codes == [codes.REPOSITORY_METADATA_ERROR] and "size 12" in answer.contexts[0]
    await _accepted(send, build_iti41(pki, cda_template))

async def test_entry_patient_differs_from_submission_set(pki, cda_template, send):
    request = build_iti41(pki, cda_template)
    request.entry("Signature01").find(
        f"{{{RIM}}}ExternalIdentifier[@identificationScheme='{ns.DE_PATIENT_ID}']"
    ).set("value", "162018885045327^^^&1.2.250.1.213.1.4.10&ISO^NH")
    answer = await send(request)
    assert answer.error_codes == [codes.PATIENT_ID_DOES_NOT_MATCH]
    await _accepted(send, build_iti41(pki, cda_template))


async def test_vihf_patient_differs_from_submission_set(pki, cda_template, send):
    from dmp_gateway.dmp_simulator.testkit.messages import VihfSpec

    spec = Iti41Spec()
    spec.vihf = VihfSpec("162018885045327^^^&1.2.250.1.213.1.4.10&ISO^NH")
    answer = await send(build_iti41(pki, cda_template, spec))
    assert answer.error_codes == [codes.PATIENT_ID_DOES_NOT_MATCH] and "VIHF resource-id" in answer.contexts[0]
    await _accepted(send, build_iti41(pki, cda_template))

@pytest.mark.parametrize(
    "ins, code",
    [("255069999999934", codes.UNKNOWN_PATIENT_ID),  # state: none
     ("180017512345628", codes.UNKNOWN_PATIENT_ID),  # not in the patients file
     ("207058575627097", codes.DMP_CLOSED)],
    ids=["no DMP", "unknown INS", "closed DMP"],
)
async def test_patient_must_have_an_open_dmp(ins, code, pki, cda_template, send):
    answer = await send(build_iti41(pki, cda_template, Iti41Spec(ins=ins)))
    assert answer.error_codes == [code]
    await _accepted(send, build_iti41(pki, cda_template, Iti41Spec(ins="162018885045327")))


async def test_author_institution_must_be_the_vihf_structure(pki, cda_template, send):
    request = build_iti41(pki, cda_template)
    value = request.entry("Document01").find(
        f"{{{RIM}}}Classification[@classificationScheme='{ns.DE_AUTHOR}']/{{{RIM}}}Slot[@name='authorInstitution']"
        f"/{{{RIM}}}ValueList/{{{RIM}}}Value"
    )
    value.text = "AUTRE^^^^^&1.2.250.1.71.4.2.2&ISO^IDNST^^^1120459876"
    answer = await send(request)
    assert answer.error_codes == [codes.AUTHENTICATION_ERROR]
    assert "Aucun AuthorInstitution ne correspond" in answer.contexts[0]
    await _accepted(send, build_iti41(pki, cda_template))

async def test_missing_mime_part(pki, cda_template, send):
    request = build_iti41(pki, cda_template)
    del request.message.parts["0.3"]
    answer = await send(request)
    assert answer.error_codes == [codes.MISSING_DOCUMENT] and "cid:0.3" in answer.contexts[0]
    await _accepted(send, build_iti41(pki, cda_template))

async def test_document_without_metadata(pki, cda_template, send):
    request = build_iti41(pki, cda_template)
    extra = etree.SubElement(request.message.body, f"{{{ns.XDSB}}}Document", id="Stray01")
    extra.text = "AAAA"
    answer = await send(request)
    assert answer.error_codes == [codes.MISSING_DOCUMENT_METADATA]
    await _accepted(send, build_iti41(pki, cda_template))

async def test_same_unique_id_twice_in_the_message(pki, cda_template, send):
    spec = Iti41Spec()
    spec.signature_uid = spec.document_uid
    answer = await send(build_iti41(pki, cda_template, spec))
    assert answer.error_codes == [codes.DUPLICATE_UNIQUE_ID_IN_MESSAGE]
    await _accepted(send, build_iti41(pki, cda_template))

async def test_unique_id_already_registered(pki, cda_template, send):
    spec = Iti41Spec()
    await _accepted(send, build_iti41(pki, cda_template, spec))
    again = Iti41Spec(document_uid=spec.document_uid)  # same document, new signature and submission set
    answer = await send(build_iti41(pki, cda_template, again))
    assert answer.error_codes == [codes.DUPLICATE_UNIQUE_ID_IN_REGISTRY]
    assert answer.body.find(f".//{{{ns.RS}}}RegistryError").get("location") == spec.document_uid


async def test_concurrent_submissions_of_one_unique_id_register_it_once(pki, cda_template, send, client):
    document_uid = Iti41Spec().document_uid
    requests = [build_iti41(pki, cda_template, Iti41Spec(document_uid=document_uid)) for _ in range(6)]
    answers = await asyncio.gather(*(send(r) for r in requests))
    assert sum(a.success for a in answers) == 1
    assert sorted(a.error_codes for a in answers if not a.success) == [[codes.DUPLICATE_UNIQUE_ID_IN_REGISTRY]] * 5
    listed = (await client.get("/_sim/documents", params={"unique_id": document_uid})).json()["documents"]
    assert len(listed) == 1


async def test_cda_not_valid_against_the_xsd(pki, cda_template, send):
    spec = Iti41Spec()
    cda = reference_cda(cda_template, unique_id=spec.document_uid, ins=spec.ins)
    broken = cda.replace(b"<realmCode code=\"FR\"/>", b"<realmCode code=\"FR\"/><surprise/>", 1)
    assert broken != cda
    answer = await send(build_iti41(pki, cda_template, spec, cda=broken))
    assert answer.error_codes == [codes.INVALID_DOCUMENT_CONTENT] and "CDA_extended.xsd" in answer.contexts[0]
    spec = Iti41Spec()
    await _accepted(send, build_iti41(pki, cda_template, spec, cda=reference_cda(cda_template, unique_id=spec.document_uid, ins=spec.ins)))


async def test_document_that_is_not_xml(pki, cda_template, send):
    request = build_iti41(pki, cda_template)
    _replace_cda(request, b"%PDF-1.4 not a CDA")
    answer = await send(request)
    assert answer.error_codes == [codes.INVALID_DOCUMENT_CONTENT]
    await _accepted(send, build_iti41(pki, cda_template))

async def test_cda_id_must_be_the_unique_id(pki, cda_template, send):
    spec = Iti41Spec()
    cda = reference_cda(cda_template, unique_id=spec.document_uid + ".9", ins=spec.ins)
    answer = await send(build_iti41(pki, cda_template, spec, cda=cda))
    assert answer.error_codes == [codes.REGISTRY_METADATA_ERROR] and "ClinicalDocument/id" in answer.contexts[0]
    await _accepted(send, build_iti41(pki, cda_template))

async def test_cda_patient_must_be_the_patient_id(pki, cda_template, send):
    spec = Iti41Spec()
    cda = reference_cda(cda_template, unique_id=spec.document_uid, ins="162018885045327")
    answer = await send(build_iti41(pki, cda_template, spec, cda=cda))
    assert answer.error_codes == [codes.REGISTRY_METADATA_ERROR] and "recordTarget" in answer.contexts[0]
    await _accepted(send, build_iti41(pki, cda_template))

async def test_xades_manifest_digest_must_match_the_document(pki, cda_template, send):
    request = build_iti41(pki, cda_template)
    _replace_cda(request, request.cda.replace(b"Compte rendu d'examens biologiques", b"Compte rendu modifie", 1))
    answer = await send(request)
    assert answer.error_codes == [codes.INVALID_SIGNATURE] and "manifest digest" in answer.contexts[0]
    await _accepted(send, build_iti41(pki, cda_template))


async def test_xades_signature_value_must_verify(pki, cda_template, send):
    request = build_iti41(pki, cda_template)
    signature = etree.fromstring(request.signature)
    value = signature.find(f"{{{ns.DS}}}SignatureValue")
    value.text = ("A" if value.text[0] != "A" else "B") + value.text[1:]
    _replace_signature(request, etree.tostring(signature, xml_declaration=True, encoding="UTF-8"))
    answer = await send(request)
    assert answer.error_codes == [codes.INVALID_SIGNATURE] and "does not verify" in answer.contexts[0]
    await _accepted(send, build_iti41(pki, cda_template))

async def test_xades_signing_certificate_digest_must_name_the_signer(pki, cda_template, send):
    request = build_iti41(pki, cda_template)
    signature = etree.fromstring(request.signature)
    # Changing the signed properties breaks the reference digest: the signature itself no longer verifies.
    signature.find(f".//{{{ns.XADES}}}CertDigest/{{{ns.DS}}}DigestValue").text = "AAAA"
    _replace_signature(request, etree.tostring(signature, xml_declaration=True, encoding="UTF-8"))
    answer = await send(request)
    assert answer.error_codes == [codes.INVALID_SIGNATURE]
    await _accepted(send, build_iti41(pki, cda_template))

async def test_xades_by_an_untrusted_signer(pki, cda_template, send):
    from dmp_gateway.dmp_simulator.testkit.pki import TestPki

    spec = Iti41Spec()
    stranger = build_iti41(TestPki.create(), cda_template, spec)
    request = build_iti41(pki, cda_template, spec, cda=stranger.cda)
    _replace_signature(request, stranger.signature)
    answer = await send(request)
    assert answer.error_codes == [codes.AUTHENTICATION_ERROR] and "XAdES" in answer.contexts[0]
    await _accepted(send, build_iti41(pki, cda_template))

async def test_ans_sample_gets_a_registry_response(shared_dir, client):
    """The ANS sample's certificates are blanked: a strict DMP refuses it, with a RegistryResponse."""
    from dmp_gateway.dmp_simulator.testkit.answers import read_answer

    sample = (shared_dir / "samples" / "ans-iti41-kos-envelope.xml").read_bytes()
    response = await client.post(
        "/si-dmp-server/v2/services/repository", content=sample, headers={"content-type": "application/soap+xml"}
    )
    answer = read_answer(response)
    assert response.status_code == 200 and answer.status == ns.RESPONSE_FAILURE
    assert answer.error_codes == [codes.INVALID_VIHF] and "certificate unreadable" in answer.contexts[0]
