"""ITI-41 metadata rules (xds-metadata.md): each test removes or miscodes exactly one thing of a valid message."""

from __future__ import annotations

import pytest
from lxml import etree

from dmp_gateway.dmp import namespaces as ns
from dmp_gateway.dmp_simulator.rejections import REGISTRY_METADATA_ERROR
from dmp_gateway.dmp_simulator.testkit.messages import build_iti41

RIM = ns.RIM


def _remove_slot(entry_id, name):
    def mutate(request):
        target = request.submission_set if entry_id == "SubmissionSet01" else request.entry(entry_id)
        target.remove(target.find(f"{{{RIM}}}Slot[@name='{name}']"))
    return mutate


def _remove_classification(entry_id, scheme):
    def mutate(request):
        target = request.submission_set if entry_id == "SubmissionSet01" else request.entry(entry_id)
        for found in target.findall(f"{{{RIM}}}Classification[@classificationScheme='{scheme}']"):
            target.remove(found)
    return mutate


def _remove_identifier(entry_id, scheme):
    def mutate(request):
        target = request.submission_set if entry_id == "SubmissionSet01" else request.entry(entry_id)
        target.remove(target.find(f"{{{RIM}}}ExternalIdentifier[@identificationScheme='{scheme}']"))
    return mutate


def _recode(entry_id, scheme, code=None, coding=None):
    def mutate(request):
        target = request.submission_set if entry_id == "SubmissionSet01" else request.entry(entry_id)
        classification = target.find(f"{{{RIM}}}Classification[@classificationScheme='{scheme}']")
        if code is not None:
            classification.set("nodeRepresentation", code)
        if coding is not None:
            classification.find(f"{{{RIM}}}Slot/{{{RIM}}}ValueList/{{{RIM}}}Value").text = coding
    return mutate


def _remove_title(request):
    entry = request.entry("Document01")
    entry.remove(entry.find(f"{{{RIM}}}Name"))


def _remove_association(kind):
    def mutate(request):
        objects = request.message.body.find(f".//{{{RIM}}}RegistryObjectList")
        for association in objects.findall(f"{{{RIM}}}Association"):
            if association.get("associationType") == kind and association.get("targetObject") in ("Document01", "SubmissionSet01"):
                objects.remove(association)
                return
    return mutate


def _set_slot(entry_id, name, value):
    def mutate(request):
        slot = request.entry(entry_id).find(f"{{{RIM}}}Slot[@name='{name}']")
        slot.find(f"{{{RIM}}}ValueList/{{{RIM}}}Value").text = value
    return mutate


def _not_ebrs(request):
    etree.SubElement(request.message.body.find(f".//{{{RIM}}}RegistryObjectList"), f"{{{RIM}}}Surprise")


SS, DOC, SIG = "SubmissionSet01", "Document01", "Signature01"
CASES = {
    # SubmissionSet (xds-metadata.md §4)
    "ss uniqueId": (_remove_identifier(SS, ns.SS_UNIQUE_ID), "uniqueId"),
    "ss sourceId": (_remove_identifier(SS, ns.SS_SOURCE_ID), "sourceId"),
    "ss patientId": (_remove_identifier(SS, ns.SS_PATIENT_ID), "patientId"),
    "ss submissionTime": (_remove_slot(SS, "submissionTime"), "submissionTime"),
    "ss contentTypeCode": (_remove_classification(SS, ns.SS_CONTENT_TYPE_CODE), "contentTypeCode"),
    "ss contentTypeCode system": (_recode(SS, ns.SS_CONTENT_TYPE_CODE, coding="9.9.9"), "JDV_J59"),
    "ss author": (_remove_classification(SS, ns.SS_AUTHOR), "author"),
    # DocumentEntry (§3)
    "doc uniqueId": (_remove_identifier(DOC, ns.DE_UNIQUE_ID), "uniqueId"),
    "doc patientId": (_remove_identifier(DOC, ns.DE_PATIENT_ID), "patientId"),
    "doc title": (_remove_title, "title"),
    "doc creationTime": (_remove_slot(DOC, "creationTime"), "creationTime"),
    "doc creationTime format": (_set_slot(DOC, "creationTime", "2025-06-02"), "DTM"),
    "doc languageCode": (_remove_slot(DOC, "languageCode"), "languageCode"),
    "doc legalAuthenticator": (_remove_slot(DOC, "legalAuthenticator"), "legalAuthenticator"),
    "doc serviceStartTime": (_remove_slot(DOC, "serviceStartTime"), "serviceStartTime"),
    "doc sourcePatientId": (_remove_slot(DOC, "sourcePatientId"), "sourcePatientId"),
    "doc hash": (_remove_slot(DOC, "hash"), "hash"),
    "doc size": (_remove_slot(DOC, "size"), "size"),
    "doc author": (_remove_classification(DOC, ns.DE_AUTHOR), "author"),
    "doc classCode": (_remove_classification(DOC, ns.DE_CLASS_CODE), "classCode"),
    "doc classCode value": (_recode(DOC, ns.DE_CLASS_CODE, code="99"), "JDV_J57"),
    "doc typeCode": (_remove_classification(DOC, ns.DE_TYPE_CODE), "typeCode"),
    "doc typeCode obsolete": (_recode(DOC, ns.DE_TYPE_CODE, code="46241-6"), "JDV_J07"),
    "doc formatCode": (_remove_classification(DOC, ns.DE_FORMAT_CODE), "formatCode"),
    "doc formatCode system": (_recode(DOC, ns.DE_FORMAT_CODE, coding="1.2.3"), "JDV_J60"),
    "doc confidentialityCode": (_remove_classification(DOC, ns.DE_CONFIDENTIALITY_CODE), "confidentialityCode"),
    "doc confidentialityCode value": (_recode(DOC, ns.DE_CONFIDENTIALITY_CODE, code="SECRET"), "JDV_J58"),
    "doc healthcareFacilityTypeCode": (_remove_classification(DOC, ns.DE_HEALTHCARE_FACILITY_TYPE_CODE), "healthcareFacilityTypeCode"),
    "doc healthcareFacilityTypeCode value": (_recode(DOC, ns.DE_HEALTHCARE_FACILITY_TYPE_CODE, code="SA99"), "healthcareFacilityTypeCode"),
    "doc practiceSettingCode": (_remove_classification(DOC, ns.DE_PRACTICE_SETTING_CODE), "practiceSettingCode"),
    "doc practiceSettingCode value": (_recode(DOC, ns.DE_PRACTICE_SETTING_CODE, code="PLAGE"), "practiceSettingCode"),
    # signature entry (§5)
    "signature typeCode": (_recode(SIG, ns.DE_TYPE_CODE, code="E9999"), "E1762"),
    "signature entry": (_recode(SIG, ns.DE_CLASS_CODE, code="10", coding="1.2.250.1.213.1.1.4.1"), "exactly one signature entry"),
    # associations (§8)
    "HasMember": (_remove_association(ns.ASSOC_HAS_MEMBER), "HasMember"),
    "signs": (_remove_association(ns.ASSOC_SIGNS), "'signs' association"),
    # ebRS 3.0 schema
    "ebRS schema": (_not_ebrs, "ebRS 3.0"),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
async def test_metadata_rule(case, pki, cda_template, send):
    mutate, words = CASES[case]
    request = build_iti41(pki, cda_template)
    mutate(request)

    answer = await send(request)

    assert answer.http.status_code == 200 and answer.status == ns.RESPONSE_FAILURE
    assert REGISTRY_METADATA_ERROR in answer.error_codes, (answer.error_codes, answer.contexts)
    assert any(words in context for context in answer.contexts), answer.contexts
    fixed = await send(build_iti41(pki, cda_template))
    assert fixed.success, fixed.contexts


async def test_all_metadata_errors_are_reported_at_once(pki, cda_template, send):
    request = build_iti41(pki, cda_template)
    _remove_slot(DOC, "creationTime")(request)
    _remove_slot(DOC, "languageCode")(request)
    answer = await send(request)
    assert answer.error_codes == [REGISTRY_METADATA_ERROR, REGISTRY_METADATA_ERROR]
    assert all(e.get("location") == "Document01" for e in answer.body.iter(f"{{{ns.RS}}}RegistryError"))
