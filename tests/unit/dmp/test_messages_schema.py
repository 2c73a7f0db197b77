"""Every message SoapDmp emits validates against ../shared/xml-schemas (ebRS 3.0/XDS.b, HL7v3, SAML).

The bodies are taken from what actually crossed the (mock) wire, so the test covers the builders
as wired in the client, not a parallel construction.
"""

from __future__ import annotations

from dmp_gateway.dmp import namespaces as ns
from dmp_gateway.dmp.types import DmpState, NewStatus
from dmp_gateway.dmp.xsd import XsdValidator


async def test_every_emitted_message_is_schema_valid(soap_dmp, peer, make_submission, validator: XsdValidator):
    first = make_submission()
    await soap_dmp.dmp_status(first.ins)
    await soap_dmp.submit(first)
    await soap_dmp.submit(make_submission(replaces_unique_id=first.unique_id))
    await soap_dmp.find(first.ins, first.unique_id)
    await soap_dmp.update_status(first.ins, first.unique_id, NewStatus.ARCHIVED)
    actions = [e.action for e in peer.envelopes]
    assert set(actions) == {ns.ACTION_TD02, ns.ACTION_ITI41, ns.ACTION_ITI18, ns.ACTION_ITI57}
    for envelope in peer.envelopes:
        assert validator.errors(envelope.body) == [], envelope.action
        assert validator.errors(envelope.security) == [], "VIHF of " + envelope.action


async def test_wire_headers_follow_ws_addressing(soap_dmp, peer, make_submission):
    submission = make_submission()
    await soap_dmp.submit(submission)
    request, envelope = peer.requests[-1], peer.envelopes[-1]
    assert str(request.url) == "https://dmp.test/si-dmp-server/v2/services/repository"
    assert envelope.to == str(request.url)
    assert envelope.message_id.startswith("urn:uuid:")
    assert "{http://www.w3.org/2005/08/addressing}Action" in envelope.must_understand
    content_type = request.headers["content-type"]
    assert content_type.startswith("multipart/related") and 'start-info="application/soap+xml"' in content_type
    message = peer.parsed_messages[-1]
    assert message.parts["0.2"] == submission.cda
    assert set(message.parts) == {"0.2", "0.3"}


async def test_iti41_metadata_matches_the_ans_mapping(soap_dmp, peer, make_submission):
    submission = make_submission()
    await soap_dmp.submit(submission)
    body = peer.envelopes[-1].body
    nsmap = {"rim": ns.RIM}

    def values(xpath: str) -> list[str]:
        return body.xpath(xpath, namespaces=nsmap)

    assert values(f"//rim:ExternalIdentifier[@identificationScheme='{ns.DE_PATIENT_ID}']/@value") == \
        values(f"//rim:ExternalIdentifier[@identificationScheme='{ns.SS_PATIENT_ID}']/@value")[:1] * 2
    format_codes = values(f"//rim:Classification[@classificationScheme='{ns.DE_FORMAT_CODE}']/@nodeRepresentation")
    assert "urn:ihe:iti:xds-sd:pdf:2008" in format_codes
    assert values("//rim:ExtrinsicObject[@id='Document01']/rim:Slot[@name='hash']/rim:ValueList/rim:Value/text()") \
        == [__import__("hashlib").sha1(submission.cda).hexdigest().upper()]
    assert values("//rim:ExtrinsicObject[@id='Document01']/rim:Slot[@name='creationTime']//rim:Value/text()") \
        == ["20210401124745"]  # 13:47:45+0100 in UTC
    kinds = sorted(values("//rim:Association/@associationType"))
    assert kinds == sorted([ns.ASSOC_HAS_MEMBER, ns.ASSOC_HAS_MEMBER, ns.ASSOC_SIGNS])
    institutions = set(values("//rim:Slot[@name='authorInstitution']//rim:Value/text()"))
    assert len(institutions) == 1


def test_fake_peer_answers_are_valid(validator, td02_answer):
    """The TD0.2 answers the contract tests parse are themselves schema-valid PRPA_IN201308UV02."""
    import datetime as dt

    from dmp_gateway.dmp.types import DmpStatus

    for status in (DmpStatus(DmpState.OPEN, authorization="VALIDE"), DmpStatus(DmpState.NOT_FOUND),
                   DmpStatus(DmpState.CLOSED, closed_on=dt.date(2024, 1, 2), closed_reason="Décès")):
        assert validator.errors(td02_answer(status)) == [], status
