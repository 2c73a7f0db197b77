"""The CDA header read back field by field, the streamed body, and the builder's guarantees."""

from __future__ import annotations

import io
import tracemalloc
from datetime import date

from dmp_gateway.cda import valuesets
from dmp_gateway.cda.builder import build_cda, build_header, write_cda
from dmp_gateway.cda.examples import example_document, example_inputs, example_patient, example_pdf
from dmp_gateway.cda.inputs import AuthoringDevice, Code
from dmp_gateway.cda.ns import TEMPLATE_IDS

import pytest

from dmp_gateway.cda.errors import InvalidCdaInputs


def test_header_carries_every_input(reader):
    pdf = example_pdf(1000)
    values = reader.read_header(build_cda(example_inputs(pdf=pdf)))
    assert values["template_ids"] == list(TEMPLATE_IDS)
    assert values["unique_id"] == "1.2.250.1.999.1.1.8121.4.1"
    assert (values["type_code"], values["title"]) == ("11488-4", "Compte rendu de consultation")
    assert (values["effective_time"], values["confidentiality"]) == ("20250301101500+0100", "N")
    assert (values["set_id"], values["version"]) == ("1.2.250.1.999.1.1.8121.5.1", "1")
    assert values["patient_ids"] == [("1.2.250.1.213.1.4.10", "279035121518989"),
                                     ("1.2.250.1.999.1.1.7898.2", "0456789999")]
    assert (values["family_br"], values["given_list"], values["given_br"]) == (
        "PAT-TROIS", "DOMINIQUE MARIE-LOUISE", "DOMINIQUE")
    assert (values["gender"], values["birth_time"], values["birth_place"], values["birth_order"]) == (
        "F", "19790328", "51215", "1")
    assert (values["author_id"], values["author_family"], values["author_given"]) == ("810002422979", "CHARLES", "Pascal")
    assert (values["custodian_id"], values["legal_id"]) == ("1120459876", "810002422979")
    assert (values["service_low"], values["service_high"]) == ("20250301100000+0100", None)
    assert (values["facility_type"], values["practice_setting"]) == ("SA07", "AMBULATOIRE")
    assert (values["encounter_responsible"], values["encounter_practice_setting"]) == ("810002422979", "AMBULATOIRE")
    assert values["replaced_id"] is None
    assert values["media_type"] == "application/pdf" and values["pdf"] == pdf


def test_xml_specials_are_escaped_by_the_tree(reader):
    nasty = 'O\'Brien & <Sons> "Ltd" ]]> 🩺'
    patient = example_patient(birth_family_name=nasty, birth_given_names=("Zoé", "<b>"))
    values = reader.read_header(build_cda(example_inputs(patient=patient, document=example_document(title=nasty))))
    assert values["family_br"] == nasty and values["title"] == nasty
    assert values["given_list"] == "Zoé <b>" and values["given_br"] == "Zoé"


def test_replacement_device_author_and_options(reader):
    doc = example_document(replaced_unique_id="1.2.250.1.999.1.1.8121.4.0", version_number=2, confidentiality="R",
                           service_end=date(2025, 3, 2), service_code=Code("18723-7", "2.16.840.1.113883.6.1", "Hémato"),
                           facility_type=valuesets.facility_types().get("EXP_PATIENT"))
    device = AuthoringDevice("3120459876/dmp-gateway", "dmp-gateway", "dmp-gateway 0.1.0")
    patient = example_patient(local_id=None, multiple_birth_order=None, used_family_name="MARTIN")
    values = reader.read_header(build_cda(example_inputs(document=doc, author=device, patient=patient)))
    assert (values["replaced_id"], values["version"], values["confidentiality"]) == (
        "1.2.250.1.999.1.1.8121.4.0", "2", "R")
    assert values["author_software"] == "dmp-gateway 0.1.0" and values["author_id"] == "3120459876/dmp-gateway"
    assert values["legal_id"] == "810002422979"  # a device author still needs a person to sign
    assert values["patient_ids"] == [("1.2.250.1.213.1.4.10", "279035121518989")]
    assert values["birth_order"] is None and values["family_cl"] == "MARTIN"
    assert (values["service_high"], values["facility_type"]) == ("20250302", "EXP_PATIENT")


def test_same_inputs_same_bytes_whatever_the_api(tmp_path):
    pdf = example_pdf(500_000)  # several base64 chunks
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    from_bytes = build_cda(example_inputs(pdf=pdf))
    assert build_cda(example_inputs(pdf=pdf)) == from_bytes
    out = io.BytesIO()
    assert write_cda(example_inputs(pdf=path), out) == len(from_bytes)
    assert out.getvalue() == from_bytes
    assert from_bytes.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n<ClinicalDocument")


def test_invalid_inputs_write_nothing():
    out = io.BytesIO()
    with pytest.raises(InvalidCdaInputs):
        write_cda(example_inputs(pdf=b"not a pdf"), out)
    assert out.getvalue() == b""


def test_build_header_leaves_the_body_empty():
    root, text = build_header(example_inputs())
    assert text.text is None and text.get("representation") == "B64"
    assert root.tag == "{urn:hl7-org:v3}ClinicalDocument"


def test_body_is_streamed_not_copied():
    """Traced allocations stay near one base64 copy of the PDF (1.33x plus a chunk), far from the 2.7x+
    of encoding the whole PDF, then splicing it into the serialized header."""
    pdf = example_pdf(6_000_000)
    inputs = example_inputs(pdf=pdf)
    build_cda(inputs)  # warm caches (value sets, lxml)
    tracemalloc.start()
    try:
        cda = build_cda(inputs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(cda) > 4 * len(pdf) // 3
    assert peak < 1.6 * len(pdf), f"peak {peak / len(pdf):.2f}x the PDF size"
