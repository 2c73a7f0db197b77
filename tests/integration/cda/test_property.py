"""Property: random identities and titles (XML specials, quotes, emoji, accents, very long strings),
dates and NIRs always give a document that validates and reads back to the same fields.

Every example goes through the kit's XSD in-process; a smaller sample also through the schematron.
"""

from __future__ import annotations

import base64
from datetime import date, datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings, strategies as st

from dmp_gateway.cda.builder import build_cda, build_cda_with_layout
from dmp_gateway.cda.examples import example_document, example_inputs, example_patient, example_pdf
from dmp_gateway.cda.inputs import CdaInputs
from dmp_gateway.cda.nir_traits import birth_place_from_nir, gender_from_nir
from dmp_gateway.cda.timestamps import format_ts
from dmp_gateway.ins import INS_OIDS, Ins, nir_key

PDF = example_pdf(64)
SPECIALS = ["&", "<", ">", '"', "'", "]]>", "&amp;", "<!--", "🩺", "👩🏽‍⚕️", "é", "Ÿ", "ß", "\u2028", "\u00a0"]

xml_text = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"),
                   min_size=1, max_size=80)
word = st.one_of(xml_text, st.lists(st.sampled_from(SPECIALS), min_size=1, max_size=6).map("".join),
                 st.integers(1000, 6000).map(lambda n: "Éloïse-" * (n // 7))).filter(lambda s: s.strip() != "")


@st.composite
def nirs(draw) -> str:
    sex = draw(st.sampled_from("12"))
    year = f"{draw(st.integers(0, 99)):02d}"
    month = f"{draw(st.integers(1, 12)):02d}"
    place = draw(st.one_of(
        st.tuples(st.integers(1, 95).filter(lambda d: d != 20).map(lambda d: f"{d:02d}"), st.integers(1, 999).map(lambda c: f"{c:03d}")),
        st.tuples(st.sampled_from(["2A", "2B"]), st.integers(1, 999).map(lambda c: f"{c:03d}")),
        st.tuples(st.sampled_from(["971", "972", "973", "974", "976"]), st.integers(1, 99).map(lambda c: f"{c:02d}")),
        st.tuples(st.just("99"), st.integers(100, 499).map(str)),
    ))
    order = f"{draw(st.integers(1, 999)):03d}"
    first13 = sex + year + month + place[0] + place[1] + order
    return first13 + f"{nir_key(first13):02d}"


@st.composite
def random_inputs(draw) -> CdaInputs:
    ins = Ins(draw(nirs()), draw(st.sampled_from(INS_OIDS)))
    birth = draw(st.dates(date(1900, 1, 1), date(2024, 12, 31)))
    offset = timezone(timedelta(minutes=draw(st.integers(-12 * 60, 14 * 60))))
    created = draw(st.datetimes(datetime(2025, 1, 1), datetime(2030, 12, 31))).replace(microsecond=0, tzinfo=offset)
    patient = example_patient(ins=ins, birth_family_name=draw(word), birth_given_names=tuple(draw(st.lists(word, min_size=1, max_size=3))),
                              birth_date=birth, gender=gender_from_nir(ins), birth_place_code=birth_place_from_nir(ins),
                              multiple_birth_order=draw(st.none() | st.integers(1, 9)))
    document = example_document(title=draw(word), effective_time=created, service_start=created)
    return example_inputs(pdf=PDF, patient=patient, document=document)


def assert_round_trip(inputs: CdaInputs, values: dict) -> None:
    patient, doc = inputs.patient, inputs.document
    assert values["patient_ids"][0] == (patient.ins.oid, patient.ins.value)
    assert values["family_br"] == patient.birth_family_name
    assert values["given_list"] == " ".join(patient.birth_given_names)
    assert values["given_br"] == patient.birth_given_names[0]
    assert values["gender"] == patient.gender.value and values["birth_place"] == patient.birth_place_code
    assert values["birth_time"] == patient.birth_date.strftime("%Y%m%d")
    assert values["birth_order"] == (None if patient.multiple_birth_order is None else str(patient.multiple_birth_order))
    assert values["title"] == doc.title and values["effective_time"] == format_ts(doc.effective_time)
    assert values["pdf"] == PDF


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(inputs=random_inputs())
def test_random_documents_are_schema_valid_and_round_trip(inputs, cda_xsd, reader):
    cda, head, tail = build_cda_with_layout(inputs)
    assert cda == build_cda(inputs)
    # what the delivery store keeps instead of the CDA: its two ends around the PDF (migration 0006)
    assert cda[:head] + base64.b64encode(inputs.pdf) + cda[len(cda) - tail:] == cda
    root = reader.parse(cda)
    assert cda_xsd.validate(root), cda_xsd.error_log.last_error
    assert_round_trip(inputs, reader.read_header(cda))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(inputs=random_inputs())
def test_random_documents_pass_the_schematron(inputs, kit, tmp_path_factory):
    path = tmp_path_factory.mktemp("prop") / "doc.xml"
    path.write_bytes(build_cda(inputs))
    report = kit.validate_file(path)
    assert report.valid, [f.format() for f in report.errors]
