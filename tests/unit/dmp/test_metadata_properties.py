"""Property tests of the XDS metadata builders (hypothesis): any valid CDA header yields schema-valid
ITI-41 XML, the entry's patientId equals the submission set's, and authorInstitution is the same on
every object (xds-metadata.md §3 DMP over-constraint)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dmp_gateway.dmp import namespaces as ns
from dmp_gateway.dmp.cda_header import Author, CdaHeader, Identifier, Organization, Person
from dmp_gateway.dmp.ebrim import hl7_escape
from dmp_gateway.dmp.iti41 import build_iti41
from dmp_gateway.dmp.metadata import FeedContext, dtm, xcn
from dmp_gateway.dmp.types import Code, Submission
from dmp_gateway.ins import Ins, nir_key

# Printable text including XML and HL7 v2 specials; no control characters (not allowed in XML 1.0).
text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30).filter(str.strip)
oid = st.lists(st.integers(0, 99999), min_size=2, max_size=8).map(lambda parts: "1." + ".".join(map(str, parts)))
code = st.builds(Code, code=st.from_regex(r"[A-Z0-9_\-/]{1,12}", fullmatch=True), scheme=oid, display=text)
ts = st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2090, 1, 1)).map(
    lambda d: d.strftime("%Y%m%d%H%M%S")) | st.just("20210401134745+0100")


@st.composite
def ins_values(draw) -> Ins:
    body = draw(st.from_regex(r"[12][0-9]{2}(0[1-9]|1[0-2])[0-9]{8}", fullmatch=True))
    return Ins(f"{body}{nir_key(body):02d}", "1.2.250.1.213.1.4.10")


person = st.builds(Person, id=st.builds(Identifier, root=st.just("1.2.250.1.71.4.2.1"), extension=text),
                   family=text, given=text, device=st.booleans())
organization = st.builds(Organization, id=st.builds(Identifier, root=st.just("1.2.250.1.71.4.2.2"), extension=text),
                         name=text)
author = st.builds(Author, person=person, institution=organization, role=st.none() | code,
                   specialty=st.none() | code)


@st.composite
def headers(draw):
    ins = draw(ins_values())
    doc_root = draw(oid)
    header = CdaHeader(
        document_id=Identifier(doc_root), type_code=draw(code), title=draw(text), effective_time=draw(ts),
        confidentiality=draw(code), language_code="fr-FR",
        patient_ids=(Identifier(ins.oid, ins.value), *draw(st.lists(st.builds(Identifier, root=oid, extension=text), max_size=1))),
        authors=tuple(draw(st.lists(author, min_size=1, max_size=3))),
        legal_authenticator=draw(st.none() | person), service_start=draw(ts), service_stop=draw(st.none() | ts),
        healthcare_facility_type=draw(code), practice_setting=draw(code), body_media_type="application/pdf",
        patient_family=draw(text), patient_given=draw(text), patient_birth_time="19790328", patient_gender="F",
    )
    return ins, header


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=headers())
def test_any_valid_header_gives_schema_valid_consistent_metadata(case, signer, validator, kit_cda):
    ins, header = case
    submission = Submission(ins=ins, cda=kit_cda, unique_id=header.unique_id)
    request = build_iti41(submission, header, signer=signer,
                          context=FeedContext("1.2.250.1.999.1.1", dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)))
    assert validator.errors(request.body) == []
    ids = request.body.xpath("//rim:ExternalIdentifier[@identificationScheme=$s]/@value", namespaces={"rim": ns.RIM},
                             s=ns.DE_PATIENT_ID)
    ss = request.body.xpath("//rim:ExternalIdentifier[@identificationScheme=$s]/@value", namespaces={"rim": ns.RIM},
                            s=ns.SS_PATIENT_ID)
    assert ids == [ins.cx, ins.cx] and ss == [ins.cx]
    institutions = request.body.xpath("//rim:Slot[@name='authorInstitution']//rim:Value/text()",
                                      namespaces={"rim": ns.RIM})
    assert len(institutions) >= 3 and len(set(institutions)) == 1


@given(st.text(max_size=40))
def test_hl7_escaping_never_leaves_a_delimiter(value):
    escaped = hl7_escape(value)
    assert not set("|^&~") & set(escaped.replace("\\S\\", "").replace("\\T\\", "").replace("\\F\\", "")
                                  .replace("\\R\\", "").replace("\\E\\", ""))


def test_xcn_of_a_professional_and_a_system():
    professional = Person(Identifier("1.2.250.1.71.4.2.1", "801234534765"), "CAMPARINI", "Marcel")
    assert xcn(professional) == "801234534765^CAMPARINI^Marcel^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS"
    system = Person(Identifier("1.2.250.1.71.4.2.1", "31120459876/DMPGW"), "dmp-gateway", "0.1", device=True)
    assert xcn(system).endswith("^^^^^^&1.2.250.1.71.4.2.1&ISO^U^^^RI")


@pytest.mark.parametrize("value, utc, expected", [
    ("20210401134745+0100", True, "20210401124745"),
    ("20210401004745+0200", True, "20210331224745"),
    ("20210401134745+0100", False, "20210401134745"),
    ("20201231", True, "20201231"),
    ("202101040735+0100", True, "202101040635"),
])
def test_dtm(value, utc, expected):
    assert dtm(value, utc=utc) == expected


def test_the_hash_a_caller_already_has_is_the_documents_hash_as_sent(signer, kit_cda):
    import hashlib

    from dmp_gateway.dmp.cda_header import read_cda_header
    from dmp_gateway.dmp.iti41 import DOCUMENT_ID, sha1_hex

    header = read_cda_header(kit_cda)
    ins = Ins(header.patient_ids[0].extension, header.patient_ids[0].root)
    context = FeedContext("1.2.250.1.999.1.1", dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    given = Submission(ins=ins, cda=kit_cda, unique_id=header.unique_id, cda_sha1=hashlib.sha1(kit_cda).hexdigest())
    computed = Submission(ins=ins, cda=kit_cda, unique_id=header.unique_id)
    for submission in (given, computed):
        request = build_iti41(submission, header, signer=signer, context=context)
        hashes = request.body.xpath("//rim:ExtrinsicObject[@id=$id]/rim:Slot[@name='hash']//rim:Value/text()",
                                    namespaces={"rim": ns.RIM}, id=DOCUMENT_ID)
        assert request.document_hash == sha1_hex(kit_cda) and hashes == [sha1_hex(kit_cda)]
