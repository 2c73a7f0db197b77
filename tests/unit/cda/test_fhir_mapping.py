"""FHIR STU3 resources -> CDA inputs (fhir/cda_mapping.py): the rules of docs/cda-mapping.md."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from dmp_gateway.cda.errors import InvalidCdaInputs
from dmp_gateway.cda.examples import example_pdf
from dmp_gateway.cda.inputs import AuthoringDevice, Gender, InstanceId
from dmp_gateway.cda.pdfa import PdfaAction
from dmp_gateway.config import Settings
from dmp_gateway.fhir.cda_mapping import (CodeDefaults, build_cda_for_resources, prepare_cda_inputs,
                                          unique_id_from_master_identifier, write_cda_for_resources)
from dmp_gateway.ins import InsEnvironment

SETTINGS = Settings(ins_environment=InsEnvironment.TEST, pdfa_policy="convert")


def inputs_of(resources, settings=SETTINGS, **kwargs):
    return prepare_cda_inputs(resources, settings, **kwargs).inputs


def problems_of(resources, settings=SETTINGS):
    with pytest.raises(InvalidCdaInputs) as caught:
        prepare_cda_inputs(resources, settings)
    return caught.value


def test_the_seed_patient_gets_sex_and_birth_place_from_its_nir(fx):
    patient = inputs_of(fx.request_resources()).patient
    assert (patient.ins.value, patient.ins.oid) == (fx.NIR, "1.2.250.1.213.1.4.10")
    assert (patient.gender, patient.birth_place_code) == (Gender.FEMALE, "51215")
    assert patient.birth_given_names == ("DOMINIQUE", "MARIE-LOUISE") and patient.birth_date == date(1979, 3, 28)
    assert patient.multiple_birth_order == 1 and patient.local_id is None and patient.label == "Patient/pat-1"


@pytest.mark.parametrize("environment, system, oid", [
    (InsEnvironment.PRODUCTION, "http://lifen.fr/fhir/Identifier/patient-nir-od", "1.2.250.1.213.1.4.8"),
    (InsEnvironment.TEST, "http://lifen.fr/fhir/Identifier/patient-nir-od", "1.2.250.1.213.1.4.10"),
    (InsEnvironment.DEMO, "http://lifen.fr/fhir/Identifier/patient-nir-od", "1.2.250.1.213.1.4.11"),
    (InsEnvironment.TEST, "urn:oid:1.2.250.1.213.1.4.9", "1.2.250.1.213.1.4.9"),
])
def test_the_ins_oid_comes_from_the_system_or_the_environment(fx, environment, system, oid):
    resources = fx.request_resources()
    resources.patient["identifier"][0]["system"] = system
    settings = Settings(ins_environment=environment)
    assert inputs_of(resources, settings).patient.ins.oid == oid


def test_declared_traits_win_over_the_nir_and_a_contradiction_is_reported(fx):
    resources = fx.request_resources()
    resources.patient["extension"] = [{"url": "http://hl7.org/fhir/StructureDefinition/birthPlace",
                                       "valueAddress": {"district": "75056", "city": "Paris"}}]
    resources.patient["gender"] = "female"
    assert inputs_of(resources).patient.birth_place_code == "75056"
    resources.patient["gender"] = "male"
    error = problems_of(resources)
    assert error.codes == ("nir-sex-mismatch",)
    assert error.problems[0].text.startswith("Patient/pat-1: the NIR's first digit 2 says female")


def test_ipp_and_used_name(fx):
    resources = fx.request_resources()
    resources.patient["identifier"].append({"system": "urn:oid:1.2.250.1.71.4.2.2.42", "value": " 0456789 "})
    resources.patient["name"] = [{"use": "usual", "family": "MARTIN", "given": ["Dom"]},
                                 {"use": "official", "family": "PAT-TROIS", "given": ["DOMINIQUE"]}]
    patient = inputs_of(resources).patient
    assert patient.local_id == InstanceId("1.2.250.1.71.4.2.2.42", "0456789")
    assert (patient.birth_family_name, patient.used_family_name, patient.used_given_name) == (
        "PAT-TROIS", "MARTIN", "Dom")


def test_participants_of_a_user_token_request(fx):
    inputs = inputs_of(fx.request_resources())
    author = inputs.author
    assert (author.national_id, author.family_name, author.given_name) == ("810002422979", "CHARLES", "Pascal")
    assert author.specialty.code == "G15_10/SM26" and author.label == "Practitioner/12"
    assert inputs.author_organization.national_id == "1120459876" == inputs.custodian.national_id
    assert inputs.legal_authenticator is author


@pytest.mark.parametrize("identifier, expected", [
    ({"system": "urn:oid:1.2.250.1.71.4.2.1", "value": "810002422979"}, "810002422979"),
    ({"system": "urn:oid:1.2.250.1.71.4.2.1", "value": "10002422979"}, "810002422979"),
    ({"type": {"coding": [{"code": "IDNPS"}]}, "system": "http://example.org", "value": "810002422979"}, "810002422979"),
])
def test_rpps_identifier_forms(fx, identifier, expected):
    resources = fx.request_resources()
    resources.sender["identifier"] = [identifier]
    assert inputs_of(resources).author.national_id == expected


@pytest.mark.parametrize("identifier, expected", [
    ({"system": "urn:oid:1.2.250.1.71.4.2.2", "value": "1120459876"}, "1120459876"),
    ({"system": "urn:oid:1.2.250.1.71.4.2.2", "value": "120459876"}, "1120459876"),
    ({"system": "https://sirene.fr", "value": "12345678901234"}, "312345678901234"),
    ({"type": {"coding": [{"code": "SIRET"}]}, "value": "12345678901234"}, "312345678901234"),
    ({"type": {"coding": [{"code": "FINEG"}]}, "value": "120459876"}, "1120459876"),
    ({"type": {"coding": [{"code": "IDNST"}]}, "value": "2264403106"}, "2264403106"),
])
def test_structure_identifier_forms(fx, identifier, expected):
    resources = fx.request_resources(requester=fx.organization(identifier))
    assert inputs_of(resources).author_organization.national_id == expected


def test_an_organization_sender_is_a_software_author_and_needs_an_authenticator(fx):
    resources = fx.request_resources(sender=fx.organization(oid="9"))
    error = problems_of(resources)
    assert error.codes == ("legal-authenticator-missing",)
    resources = fx.request_resources(sender=fx.organization(oid="9"), authenticator=fx.practitioner())
    inputs = inputs_of(resources)
    assert isinstance(inputs.author, AuthoringDevice)
    assert inputs.author.system_id == "3120459876/dmp-gateway"
    assert inputs.legal_authenticator.national_id == "810002422979"


def test_explicit_authenticator_and_custodian(fx):
    other = fx.practitioner()
    other["id"], other["identifier"][0]["value"] = "13", "10000000001"
    custodian = fx.organization({"system": "urn:oid:1.2.250.1.71.4.2.2", "value": "1750512345"}, oid="8")
    inputs = inputs_of(fx.request_resources(authenticator=other, custodian=custodian))
    assert inputs.legal_authenticator.national_id == "810000000001"
    assert inputs.custodian.national_id == "1750512345" and inputs.author_organization.national_id == "1120459876"
    resources = fx.request_resources()
    resources.document_reference["authenticator"] = {"reference": "Practitioner/13"}
    assert problems_of(resources).codes == ("authenticator-missing",)


def test_document_metadata(fx):
    resources = fx.request_resources(version_number=2, replaced_unique_id="1.2.250.1.999.1.1.8121.4.76")
    docref = resources.document_reference
    docref["relatesTo"] = [{"code": "replaces", "target": {"reference": "DocumentReference/old"}}]
    docref["securityLabel"] = [{"coding": [{"system": "http://hl7.org/fhir/v3/Confidentiality", "code": "R"}]}]
    docref["context"]["period"]["end"] = "2025-03-01T10:30:00+01:00"
    docref["context"]["event"] = [{"coding": [{"system": "http://loinc.org", "code": "18723-7", "display": "Hémato"}]}]
    doc = inputs_of(resources).document
    paris = timezone(timedelta(hours=1))
    assert (doc.unique_id, doc.set_id, doc.version_number) == (fx.UNIQUE_ID, fx.SET_ID, 2)
    assert doc.replaced_unique_id == "1.2.250.1.999.1.1.8121.4.76" and doc.confidentiality == "R"
    assert (doc.type_code.code, doc.title) == ("11488-4", "Compte rendu de consultation")
    assert doc.effective_time == datetime(2025, 3, 1, 10, 15, tzinfo=paris)
    assert (doc.service_start, doc.service_end) == (datetime(2025, 3, 1, 10, tzinfo=paris),
                                                    datetime(2025, 3, 1, 10, 30, tzinfo=paris))
    assert (doc.service_code.code, doc.service_code.code_system) == ("18723-7", "2.16.840.1.113883.6.1")
    assert (doc.facility_type.code, doc.practice_setting.code) == ("SA07", "AMBULATOIRE")


def test_fallbacks_for_title_dates_and_codes(fx):
    received = datetime(2025, 3, 2, 8, 0, tzinfo=timezone.utc)
    resources = fx.request_resources(received_at=received, defaults=CodeDefaults("SA01", "ETABLISSEMENT"))
    docref = resources.document_reference
    for key in ("created", "indexed", "description", "context"):
        docref.pop(key)
    doc = inputs_of(resources).document
    assert doc.title == "CR ou fiche de consultation ou de visite"
    assert doc.effective_time == doc.service_start == received and doc.service_end is None
    assert (doc.facility_type.code, doc.practice_setting.code, doc.confidentiality) == ("SA01", "ETABLISSEMENT", "N")


def test_every_problem_of_a_request_comes_in_one_error(fx):
    resources = fx.request_resources(pdf=b"%PDF-1.4 truncated")
    resources.patient["identifier"] = []
    resources.patient["birthDate"] = "1979"
    resources.sender["identifier"] = []
    resources.requester["identifier"] = [{"system": "http://finess.sante.gouv.fr", "value": "12"}]
    docref = resources.document_reference
    docref["type"] = {"coding": [{"system": "http://loinc.org", "code": "46241-6"}]}
    docref["created"] = "2025-03-01T10:15:00"  # no offset
    docref["context"] = {"facilityType": {"coding": [{"code": "SA99"}]}}
    docref["relatesTo"] = [{"code": "replaces", "target": {"reference": "DocumentReference/old"}}]
    docref["securityLabel"] = [{"coding": [{"system": "http://hl7.org/fhir/v3/Confidentiality", "code": "U"}]}]
    error = problems_of(resources)
    assert set(error.codes) == {
        "ins-missing", "birth-date-invalid", "rpps-missing", "structure-id-missing", "type-code-unknown",
        "date-invalid", "facility-type-unknown", "practice-setting-missing",
        "replaced-id-missing", "confidentiality-invalid", "pdf-unreadable"}
    assert "Practitioner/12 has no RPPS identifier" in error.reason
    assert "DocumentReference/doc-1: type '46241-6' is not in the DMP document type value set" in error.reason


def test_the_sender_must_be_a_practitioner_or_an_organization(fx):
    error = problems_of(fx.request_resources(sender={"resourceType": "Device", "id": "dmp"}))
    assert "sender-invalid" in error.codes and "Device/dmp" in error.reason


def test_pdf_policy_is_applied_after_all_checks(fx, tmp_path):
    calls = []

    def convert(pdf, *, timestamp):
        calls.append(timestamp)
        return example_pdf(pdfa=("1", "B"), seed=2)

    plain = example_pdf(2000)
    prepared = prepare_cda_inputs(fx.request_resources(pdf=plain), SETTINGS, converter=convert)
    assert prepared.pdf.action is PdfaAction.CONVERTED and prepared.inputs.pdf == prepared.pdf.converted
    assert calls == [prepared.inputs.document.effective_time]
    accept = Settings(pdfa_policy="accept")
    assert prepare_cda_inputs(fx.request_resources(pdf=plain), accept).inputs.pdf is plain
    error = problems_of(fx.request_resources(pdf=plain, sender={"resourceType": "Device"}), Settings(pdfa_policy="reject"))
    assert {"pdf-not-pdfa", "sender-invalid"} <= set(error.codes)


def test_bytes_and_file_outputs_agree(fx, reader):
    resources = fx.request_resources()
    cda = build_cda_for_resources(resources, SETTINGS)
    import io

    out = io.BytesIO()
    preparation = write_cda_for_resources(resources, SETTINGS, out)
    assert out.getvalue() == cda and preparation.action is PdfaAction.KEPT_PDFA
    values = reader.read_header(cda)
    assert values["unique_id"] == fx.UNIQUE_ID and values["pdf"] == resources.pdf


def test_master_identifier_oid(fx):
    assert unique_id_from_master_identifier({"masterIdentifier": {"value": "urn:oid:1.2.3.4"}}) == "1.2.3.4"
    assert unique_id_from_master_identifier({"masterIdentifier": {"value": "abc"}}) is None
    assert unique_id_from_master_identifier({}) is None


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, prefix + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, prefix + (index,))


junk = st.one_of(st.none(), st.integers(), st.booleans(), st.text(max_size=5), st.lists(st.integers(), max_size=2),
                 st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_malformed_json_gives_problems_never_a_crash(fx, data):
    """Stored resources passed STU3 validation, but a wrong shape must still be a listed problem."""
    resources = fx.request_resources()
    part = data.draw(st.sampled_from(["patient", "document_reference", "sender", "requester"]))
    resource = getattr(resources, part)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from([p for p in _paths(resource) if p and p[0] not in ("resourceType", "id")]))
        target = resource
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = data.draw(junk)
    try:
        prepare_cda_inputs(resources, Settings(pdfa_policy="accept"))
    except InvalidCdaInputs as exc:
        assert exc.problems and "Traceback" not in exc.reason
