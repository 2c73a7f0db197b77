"""ITI-41 envelope, WS-Addressing and VIHF rules: each test breaks exactly one rule of a valid message."""

from __future__ import annotations

from datetime import timedelta

import pytest
from lxml import etree

from dmp_gateway.dmp import namespaces as ns
from dmp_gateway.dmp_simulator.rejections import AUTHENTICATION_ERROR, INVALID_VIHF
from dmp_gateway.dmp_simulator.testkit.messages import NOW, Iti41Spec, VihfSpec, _vihf_attributes, build_iti41
from dmp_gateway.dmp_simulator.testkit.pki import TestPki, issue, make_ca
from dmp_gateway.dmp_simulator.vihf import REQUIRED_ATTRIBUTES

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"


def _wsa(request, local):
    return request.message.header.find(ns.qname(ns.WSA, local))


async def _fixed_is_accepted(send, pki, cda_template) -> None:
    answer = await send(build_iti41(pki, cda_template))
    assert answer.success, answer.contexts


# --- envelope and WS-Addressing: SOAP 1.2 faults ----------------------------------------------------

def _soap11(request):
    request.message.envelope.tag = ns.qname(SOAP11, "Envelope")


def _no_action(request):
    request.message.header.remove(_wsa(request, "Action"))


def _wrong_action(request):
    _wsa(request, "Action").text = ns.ACTION_ITI18


def _no_message_id(request):
    request.message.header.remove(_wsa(request, "MessageID"))


def _unknown_must_understand(request):
    block = etree.SubElement(request.message.header, "{urn:example:unknown}Routing")
    block.set(ns.qname(ns.SOAP, "mustUnderstand"), "true")


def _wrong_body(request):
    body = request.message.envelope.find(ns.qname(ns.SOAP, "Body"))
    body[0].tag = ns.qname(ns.XDSB, "RetrieveDocumentSetRequest")


ENVELOPE_CASES = {
    "soap 1.1 envelope": (_soap11, "soap:VersionMismatch", None),
    "no wsa:Action": (_no_action, "soap:Sender", "MessageAddressingHeaderRequired"),
    "action of another transaction": (_wrong_action, "soap:Sender", "ActionNotSupported"),
    "no wsa:MessageID": (_no_message_id, "soap:Sender", "MessageAddressingHeaderRequired"),
    "unknown mustUnderstand header": (_unknown_must_understand, "soap:MustUnderstand", None),
    "body is not ProvideAndRegister": (_wrong_body, "soap:Sender", None),
}


@pytest.mark.parametrize("case", ENVELOPE_CASES, ids=list(ENVELOPE_CASES))
async def test_envelope_rule_gives_a_soap_fault(case, pki, cda_template, send):
    mutate, code, subcode = ENVELOPE_CASES[case]
    request = build_iti41(pki, cda_template)
    mutate(request)

    answer = await send(request, service=ns.SERVICE_REPOSITORY)

    assert answer.http.status_code == 500
    assert answer.fault_code == code
    assert (answer.fault_subcode or "").endswith(subcode or "") if subcode else answer.fault_subcode is None
    await _fixed_is_accepted(send, pki, cda_template)


async def test_root_part_that_is_not_xml_gives_a_sender_fault(pki, cda_template, client, send):
    request = build_iti41(pki, cda_template)
    body, content_type = request.to_http()
    broken = body.replace(b"<soap:Body>", b"<soap:Body><unclosed>", 1)

    response = await client.post(
        "/si-dmp-server/v2/services/repository", content=broken, headers={"content-type": content_type}
    )

    assert response.status_code == 500
    assert b"soap:Sender" in response.content and b"not well-formed" in response.content
    await _fixed_is_accepted(send, pki, cda_template)


async def test_soap11_content_type_gives_version_mismatch(pki, cda_template, client):
    body, _ = build_iti41(pki, cda_template).to_http()
    response = await client.post("/si-dmp-server/v2/services/repository", content=body, headers={"content-type": "text/xml"})
    assert response.status_code == 500 and b"soap:VersionMismatch" in response.content


# --- VIHF ------------------------------------------------------------------------------------------

def _spec(**vihf_changes) -> Iti41Spec:
    spec = Iti41Spec()
    spec.vihf = VihfSpec(spec.ins_cx, **vihf_changes)
    return spec


async def test_missing_vihf_is_refused(pki, cda_template, send):
    request = build_iti41(pki, cda_template)
    request.message.header.remove(request.message.header.find(ns.qname(ns.WSSE, "Security")))
    answer = await send(request)
    assert answer.status == ns.RESPONSE_FAILURE and answer.error_codes == [INVALID_VIHF]
    assert "wsse:Security" in answer.contexts[0]
    await _fixed_is_accepted(send, pki, cda_template)


async def test_unsigned_vihf_is_refused(pki, cda_template, send):
    request = build_iti41(pki, cda_template)
    assertion = request.message.header.find(f".//{ns.qname(ns.SAML2, 'Assertion')}")
    assertion.remove(assertion.find(ns.qname(ns.DS, "Signature")))
    answer = await send(request)
    assert answer.error_codes == [INVALID_VIHF] and "not signed" in answer.contexts[0]
    await _fixed_is_accepted(send, pki, cda_template)

async def test_vihf_changed_after_signing_is_refused(pki, cda_template, send):
    request = build_iti41(pki, cda_template)
    value = request.message.header.find(
        f".//{ns.qname(ns.SAML2, 'Attribute')}[@Name='Secteur_Activite']/{ns.qname(ns.SAML2, 'AttributeValue')}"
    )
    value.text = "SA25^1.2.250.1.71.4.2.4"
    answer = await send(request)
    assert answer.error_codes == [INVALID_VIHF] and "does not verify" in answer.contexts[0]
    await _fixed_is_accepted(send, pki, cda_template)

async def test_vihf_signed_by_another_ca_is_refused(pki, cda_template, send):
    stranger = TestPki.create()
    request = build_iti41(pki, cda_template)
    forged = build_iti41(stranger, cda_template, request.spec)
    security = request.message.header.find(ns.qname(ns.WSSE, "Security"))
    security.replace(security[0], forged.message.header.find(f".//{ns.qname(ns.SAML2, 'Assertion')}"))
    answer = await send(request)
    assert answer.error_codes == [AUTHENTICATION_ERROR] and "not issued by a trusted CA" in answer.contexts[0]
    await _fixed_is_accepted(send, pki, cda_template)


async def test_vihf_signed_with_an_expired_certificate_is_refused(pki, cda_template, send):
    expired = issue(pki.ca, "OLD ORG_SIGN", not_before=NOW - timedelta(days=400), days=365)
    spec = Iti41Spec()
    request = build_iti41(pki, cda_template, spec)
    assertion = VihfSpec(spec.ins_cx).build(expired)
    security = request.message.header.find(ns.qname(ns.WSSE, "Security"))
    security.replace(security[0], assertion)
    answer = await send(request)
    assert answer.error_codes == [AUTHENTICATION_ERROR] and "expired" in answer.contexts[0]
    await _fixed_is_accepted(send, pki, cda_template)

@pytest.mark.parametrize(
    "changes, words",
    [
        ({"not_on_or_after": NOW - timedelta(minutes=10)}, "expired"),
        ({"not_on_or_after": None, "issue_instant": NOW - timedelta(hours=3)}, "expired"),
        ({"issue_instant": NOW + timedelta(hours=1)}, "future"),
        ({"issuer": "CN=someone else, OU=499700367909006, O=X, C=FR"}, "not the signing certificate's subject"),
        ({"audience": "https://dmp.example"}, "AudienceRestriction"),
        ({"subject": ""}, "NameID"),
    ],
    ids=["NotOnOrAfter passed", "too old without NotOnOrAfter", "issued in the future", "Issuer is not the signer",
         "AudienceRestriction set", "no NameID"],
)
async def test_vihf_validity_rules(changes, words, pki, cda_template, send):
    answer = await send(build_iti41(pki, cda_template, _spec(**changes)))
    assert answer.error_codes == [INVALID_VIHF]
    assert words in answer.contexts[0]
    await _fixed_is_accepted(send, pki, cda_template)

@pytest.mark.parametrize("name", REQUIRED_ATTRIBUTES)
async def test_each_required_vihf_attribute(name, pki, cda_template, send):
    spec = Iti41Spec()
    attributes = _vihf_attributes(spec.ins_cx, spec.structure_id)
    del attributes[name]
    spec.vihf = VihfSpec(spec.ins_cx, attributes=attributes)
    answer = await send(build_iti41(pki, cda_template, spec))
    assert answer.error_codes == [INVALID_VIHF]
    assert name in answer.contexts[0]
    await _fixed_is_accepted(send, pki, cda_template)

@pytest.mark.parametrize(
    "name, value",
    [("VIHF_Version", "9.9"), ("Authentification_Mode", "PAR_HASARD"), ("Secteur_Activite", "SA01"),
     ("Ressource_URN", "urn:dossier"), ("urn:oasis:names:tc:xacml:2.0:resource:resource-id", "279035121518989")],
)
async def test_vihf_attribute_values_are_checked(name, value, pki, cda_template, send):
    spec = Iti41Spec()
    attributes = _vihf_attributes(spec.ins_cx, spec.structure_id)
    attributes[name] = [value]
    spec.vihf = VihfSpec(spec.ins_cx, attributes=attributes)
    answer = await send(build_iti41(pki, cda_template, spec))
    assert answer.error_codes == [INVALID_VIHF] and name in answer.contexts[0]
    await _fixed_is_accepted(send, pki, cda_template)

async def test_structure_of_vihf_must_be_the_signing_certificate_ou(pki, cda_template, send):
    spec = Iti41Spec(structure_id="1120459876")  # VIHF and metadata agree, the certificate says otherwise
    answer = await send(build_iti41(pki, cda_template, spec))
    assert answer.error_codes == [AUTHENTICATION_ERROR]
    assert "Erreur d'authentification de la personne morale" in answer.contexts[0]
    await _fixed_is_accepted(send, pki, cda_template)

async def test_sha1_vihf_signature_is_accepted(pki, cda_template, send):
    answer = await send(build_iti41(pki, cda_template, _spec(sha1=True)))
    assert answer.success, answer.contexts


async def test_structure_on_another_certificate_of_the_same_ca(pki, cda_template, send):
    other = issue(pki.ca, "OTHER ORG_SIGN", ou="1120459876")
    spec = Iti41Spec()
    request = build_iti41(pki, cda_template, spec)
    security = request.message.header.find(ns.qname(ns.WSSE, "Security"))
    security.replace(security[0], VihfSpec(spec.ins_cx).build(other))
    answer = await send(request)
    assert answer.error_codes == [AUTHENTICATION_ERROR]
    await _fixed_is_accepted(send, pki, cda_template)

async def test_untrusted_anchor_configuration(make_config, pki, cda_template, tmp_path):
    """With another CA configured as trust anchor, our own signer is refused."""
    import httpx

    from dmp_gateway.dmp_simulator import create_app
    from dmp_gateway.dmp_simulator.testkit.answers import read_answer

    make_ca().write(tmp_path, "other")
    app = create_app(make_config(trust_anchors=(tmp_path / "other.pem",)))
    body, content_type = build_iti41(pki, cda_template).to_http()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as client:
        response = await client.post("/si-dmp-server/v2/services/repository", content=body, headers={"content-type": content_type})
    await app.state.simulator.aclose()
    assert read_answer(response).error_codes == [AUTHENTICATION_ERROR]


def test_a_reused_vihf_is_verified_once_and_its_times_are_checked_every_time(pki, cda_template, monkeypatch):
    """The gateway signs one VIHF per patient for its TD0.2 and its ITI-41: the simulator remembers
    the signature, never the time rules nor a changed assertion."""
    from dmp_gateway.dmp_simulator import vihf
    from dmp_gateway.dmp_simulator.rejections import Rejected
    from dmp_gateway.dmp_simulator.trust import TrustStore

    from .conftest import SIM_NOW

    calls = []
    verify = vihf._verify_signature
    monkeypatch.setattr(vihf, "_verify_signature", lambda *a: calls.append(1) or verify(*a))
    monkeypatch.setattr(vihf, "_VERIFIED", vihf._VerifiedSignatures())
    trust = TrustStore([pki.ca.certificate])
    header = build_iti41(pki, cda_template).message.header
    first = vihf.check_vihf(header, trust=trust, now=SIM_NOW)
    again = vihf.check_vihf(header, trust=trust, now=SIM_NOW + timedelta(minutes=5))
    assert first == again and len(calls) == 1
    with pytest.raises(Rejected, match="expired"):
        vihf.check_vihf(header, trust=trust, now=SIM_NOW + timedelta(hours=3))
    value = header.find(f".//{ns.qname(ns.SAML2, 'Attribute')}[@Name='Secteur_Activite']/{ns.qname(ns.SAML2, 'AttributeValue')}")
    value.text = "SA25^1.2.250.1.71.4.2.4"  # other bytes: verified again, and refused
    with pytest.raises(Rejected, match="does not verify"):
        vihf.check_vihf(header, trust=trust, now=SIM_NOW)
    assert len(calls) == 2
