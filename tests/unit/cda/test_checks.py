"""Input rules: every problem is reported at once, in words, without patient data."""

from __future__ import annotations

from datetime import date

import pytest

from dmp_gateway.cda import valuesets
from dmp_gateway.cda.builder import build_cda
from dmp_gateway.cda.checks import check_inputs
from dmp_gateway.cda.errors import InvalidCdaInputs
from dmp_gateway.cda.examples import (example_document, example_inputs, example_organization, example_patient,
                                      example_professional)
from dmp_gateway.cda.inputs import AuthoringDevice, Code, Gender, InstanceId


def codes(inputs) -> list[str]:
    return [p.code for p in check_inputs(inputs)]


def test_the_example_inputs_have_no_problem():
    assert check_inputs(example_inputs()) == []


def test_every_problem_is_listed_in_one_error():
    broken = example_inputs(
        document=example_document(unique_id="not-an-oid", type_code=Code("46241-6", "2.16.840.1.113883.6.1", "x"),
                                  title=" ", confidentiality="U", facility_type=Code("SA99", "1.2.250.1.71.4.2.4", "?"),
                                  practice_setting=Code("AMBULATOIRE", "1.2.3", "wrong system"), version_number=0),
        patient=example_patient(birth_family_name="", birth_given_names=(), birth_place_code=None),
        author=example_professional(national_id="", specialty=Code("XX", "1.2.250.1.213.1.1.4.5", "?")),
        custodian=example_organization(national_id="99", name=""),
        pdf=b"<html>not a pdf</html>")
    with pytest.raises(InvalidCdaInputs) as caught:
        build_cda(broken)
    assert set(caught.value.codes) >= {
        "document-id-invalid", "type-code-unknown", "title-missing", "confidentiality-invalid",
        "facility-type-unknown", "practice-setting-unknown", "version-invalid", "patient-family-missing",
        "patient-given-missing", "patient-birth-place-missing", "ps-id-invalid", "specialty-unknown",
        "structure-id-invalid", "organization-name-missing", "pdf-not-pdf"}
    assert "46241-6" in caught.value.reason and "JDV_J07" in caught.value.reason
    assert "Traceback" not in caught.value.reason


def test_nir_sex_digit_contradicting_the_gender_is_an_error_not_a_choice():
    problems = check_inputs(example_inputs(patient=example_patient(gender=Gender.MALE)))
    assert [p.code for p in problems] == ["nir-sex-mismatch"]
    assert "first digit 2 says female" in problems[0].text and "male" in problems[0].text


def test_ins_requires_sex_and_birth_place_but_an_ipp_alone_does_not():
    assert set(codes(example_inputs(patient=example_patient(gender=None, birth_place_code=None)))) == {
        "patient-gender-missing", "patient-birth-place-missing"}
    ipp_only = example_patient(ins=None, birth_place_code=None)
    assert codes(example_inputs(patient=ipp_only)) == []
    assert codes(example_inputs(patient=example_patient(ins=None, local_id=None))) == ["patient-id-missing"]


@pytest.mark.parametrize("bad", ["PAT\x00TROIS", "PAT\nTROIS", "PAT\ud800", "PAT\ufffe"])
def test_characters_xml_cannot_carry_are_refused(bad):
    assert codes(example_inputs(patient=example_patient(birth_family_name=bad))) == ["patient-family-invalid"]


def test_dates_and_ranks_are_checked():
    assert codes(example_inputs(patient=example_patient(birth_date=date(2026, 1, 1)))) == ["birth-date-after-document"]
    assert codes(example_inputs(patient=example_patient(multiple_birth_order=0))) == ["multiple-birth-invalid"]
    assert codes(example_inputs(document=example_document(service_end=date(2020, 1, 1)))) == ["service-period-invalid"]
    assert codes(example_inputs(patient=example_patient(birth_place_code="5121"))) == ["birth-place-invalid"]
    assert codes(example_inputs(patient=example_patient(local_id=InstanceId("IPP", "1 2")))) == ["ipp-invalid"]


def test_replacement_ids_are_checked():
    doc = example_document()
    assert codes(example_inputs(document=example_document(replaced_unique_id=doc.unique_id))) == ["replaced-id-invalid"]
    assert codes(example_inputs(document=example_document(replaced_unique_id="x.y"))) == ["replaced-id-invalid"]


def test_a_device_author_is_checked_too():
    device = AuthoringDevice(system_id="", model_name="gw", software_name="")
    assert codes(example_inputs(author=device)) == ["device-id-invalid", "device-name-missing"]


def test_messages_never_echo_patient_data():
    patient = example_patient(birth_date=date(2030, 1, 1), birth_place_code="ABCDE", gender=Gender.MALE,
                              birth_family_name="DUPONT\x01")
    problems = check_inputs(example_inputs(patient=patient))
    assert len(problems) == 4
    text = " ".join(p.text for p in problems)
    for secret in ("DUPONT", "2030", "ABCDE", "279035121518989"):
        assert secret not in text


def test_code_membership_uses_code_and_code_system():
    setting = valuesets.practice_settings().get("AMBULATOIRE")
    assert valuesets.practice_settings().contains(setting)
    assert not valuesets.practice_settings().contains(Code("AMBULATOIRE", "1.2.250.1.213.1.1.4.6", "x"))


def test_identity_problems_are_told_apart_from_document_problems():
    identity = InvalidCdaInputs(check_inputs(example_inputs(patient=example_patient(gender=Gender.MALE))))
    assert identity.only_patient_identity
    mixed = check_inputs(example_inputs(patient=example_patient(gender=Gender.MALE),
                                        document=example_document(title="")))
    assert not InvalidCdaInputs(mixed).only_patient_identity
