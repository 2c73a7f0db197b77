"""Reading the CDA header: the ANS mapping's inputs, read without parsing the body."""

from __future__ import annotations

import pytest
from lxml import etree

from dmp_gateway.dmp.cda_header import read_cda_header
from dmp_gateway.dmp.errors import InvalidSubmission
from dmp_gateway.dmp.metadata import check_header

HL7 = "{urn:hl7-org:v3}"


def test_kit_example_header(kit_cda):
    header = read_cda_header(kit_cda)
    assert header.unique_id == "1.3.6.1.4.1.19376.1.2.20.12345.1.1"
    assert (header.type_code.code, header.type_code.scheme) == ("11502-2", "2.16.840.1.113883.6.1")
    assert header.ins_identifier().extension == "279035121518989"
    assert header.local_patient_identifier().extension == "1234567890121"
    assert header.authors[0].institution.id.extension == "1120459876"
    assert header.practice_setting.code == "AMBULATOIRE" and header.healthcare_facility_type.code == "SA07"
    assert header.body_media_type == "application/pdf"
    assert (header.service_start, header.service_stop) == ("20210104134700+0100", "20210104135500+0100")


def test_body_is_not_needed_to_read_the_header(kit_cda):
    # cut the file inside the base64 body: a full parse would fail, the header reader stops before
    cut = kit_cda[: kit_cda.index(b"JVBERi0") + 1000]
    assert read_cda_header(cut).title == "Compte rendu d'examens biologiques"


def _without(kit_cda: bytes, path: str) -> bytes:
    tree = etree.fromstring(kit_cda)
    node = tree.find(path)
    node.getparent().remove(node)
    return etree.tostring(tree)


@pytest.mark.parametrize("path, field", [
    (f"{HL7}title", "ClinicalDocument/title"),
    (f"{HL7}code", "ClinicalDocument/code"),
    (f"{HL7}effectiveTime", "ClinicalDocument/effectiveTime/@value"),
    (f"{HL7}id", "ClinicalDocument/id/@root"),
])
def test_missing_header_element_is_named(kit_cda, path, field):
    with pytest.raises(InvalidSubmission) as caught:
        read_cda_header(_without(kit_cda, path))
    assert caught.value.location == field


@pytest.mark.parametrize("path, field", [
    (f"{HL7}componentOf", "healthCareFacility/code"),
    (f"{HL7}documentationOf", "documentationOf/serviceEvent/effectiveTime/low"),
    (f"{HL7}author", "author"),
])
def test_dmp_required_facts_are_checked_before_sending(kit_cda, kit_ins, path, field):
    header = read_cda_header(_without(kit_cda, path))
    with pytest.raises(InvalidSubmission) as caught:
        check_header(header, kit_ins, header.unique_id)
    assert caught.value.location == field


def test_ins_of_another_patient_is_refused(kit_cda):
    from dmp_gateway.ins import Ins

    header = read_cda_header(kit_cda)
    with pytest.raises(InvalidSubmission, match="INS"):
        check_header(header, Ins("162018885045327", "1.2.250.1.213.1.4.10"), header.unique_id)


@pytest.mark.parametrize("data", [b"", b"<notcda/>", b"<ClinicalDocument xmlns='urn:hl7-org:v3'><id"])
def test_not_a_cda(data):
    with pytest.raises(InvalidSubmission):
        read_cda_header(data)
