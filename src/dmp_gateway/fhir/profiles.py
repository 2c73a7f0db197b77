"""Profile and business rules of the seed (seed-flow.md §3-5), answered with 422 naming the field.

Each resource type has a rule function returning issues, and a list of the references it carries
with the types they may point to; `rules_for` is the table the interactions use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dmp_gateway.fhir.codes import ACTIVE_DEVICES_EXTENSION
from dmp_gateway.fhir.outcomes import Issue
from dmp_gateway.fhir.references import RefSlot
from dmp_gateway.ins import INS_SYSTEMS, check_matricule

GENDERS = ("male", "female", "other", "unknown")
DOCREF_STATUSES = ("current", "superseded", "entered-in-error")
CR_CREATE_STATUSES = ("suspended", "active")


@dataclass(frozen=True)
class RuleContext:
    #: Check NIR sex/year/month against the Patient (switchable: test identities break them).
    nir_consistency: bool = False


def patient_rules(p: dict, ctx: RuleContext) -> list[Issue]:
    issues: list[Issue] = []
    nirs = [(i, ident) for i, ident in enumerate(p.get("identifier") or []) if ident.get("system") in INS_SYSTEMS]
    if not nirs:
        issues.append(Issue("required", "Patient.identifier must contain the patient's NIR or NIA (system "
                                        "http://lifen.fr/fhir/Identifier/patient-nir-od or an INS OID "
                                        "urn:oid:1.2.250.1.213.1.4.8/.9/.10/.11)", "Patient.identifier"))
    for i, ident in nirs:
        value = ident.get("value") or ""
        problem = check_matricule(value.replace(" ", "").upper())
        if problem:
            issues.append(Issue("value", f"Patient.identifier[{i}].value {problem}", f"Patient.identifier[{i}].value"))
        elif ctx.nir_consistency:
            issues += _nir_consistency(p, i, value)
    names = p.get("name") or []
    if not names:
        issues.append(Issue("required", "Patient.name is required (family and given)", "Patient.name"))
    else:
        if not (names[0].get("family") or "").strip():
            issues.append(Issue("required", "Patient.name[0].family is required", "Patient.name[0].family"))
        if not [g for g in names[0].get("given") or [] if g and g.strip()]:
            issues.append(Issue("required", "Patient.name[0].given is required", "Patient.name[0].given"))
    if not p.get("birthDate"):
        issues.append(Issue("required", "Patient.birthDate is required", "Patient.birthDate"))
    rank = p.get("multipleBirthInteger")
    if rank is None:
        issues.append(Issue("required", "Patient.multipleBirthInteger is required (birth rank, 1 unless twins)",
                            "Patient.multipleBirthInteger"))
    elif rank < 1:
        issues.append(Issue("value", "Patient.multipleBirthInteger must be 1 or more", "Patient.multipleBirthInteger"))
    if "gender" in p and p["gender"] not in GENDERS:
        issues.append(Issue("code-invalid", f"Patient.gender must be one of {', '.join(GENDERS)}", "Patient.gender"))
    return issues


def _nir_consistency(p: dict, i: int, value: str) -> list[Issue]:
    where = f"Patient.identifier[{i}].value"
    issues = []
    sex = {"1": "male", "2": "female"}.get(value[0])
    if sex and p.get("gender") in ("male", "female") and p["gender"] != sex:
        issues.append(Issue("value", f"{where} is not the patient's own NIR: its sex digit says {sex}, "
                                     f"Patient.gender says {p['gender']}", where))
    birth = p.get("birthDate") or ""
    if len(birth) >= 4 and birth[2:4] != value[1:3]:
        issues.append(Issue("value", f"{where} is not the patient's own NIR: birth year {birth[:4]} does not "
                                     f"end with {value[1:3]}", where))
    if len(birth) >= 7 and value[3:5] <= "12" and birth[5:7] != value[3:5]:
        issues.append(Issue("value", f"{where} is not the patient's own NIR: birth month {birth[5:7]} is not "
                                     f"{value[3:5]}", where))
    return issues


def document_reference_rules(d: dict, ctx: RuleContext) -> list[Issue]:
    issues = []
    if d.get("status") not in DOCREF_STATUSES:
        issues.append(Issue("code-invalid", f"DocumentReference.status must be one of {', '.join(DOCREF_STATUSES)}",
                            "DocumentReference.status"))
    for i, content in enumerate(d.get("content") or []):
        att = content.get("attachment") or {}
        if not att.get("url"):
            issues.append(Issue("required", f"DocumentReference.content[{i}].attachment.url must reference the "
                                            "Binary holding the PDF (Binary/<id>)",
                                f"DocumentReference.content[{i}].attachment.url"))
    return issues


def document_reference_refs(d: dict) -> list[RefSlot]:
    slots = [RefSlot(f"DocumentReference.content[{i}].attachment.url", (c.get("attachment") or {}).get("url"), ("Binary",))
             for i, c in enumerate(d.get("content") or []) if (c.get("attachment") or {}).get("url")]
    if "subject" in d:
        slots.append(RefSlot("DocumentReference.subject", _ref(d["subject"]), ("Patient",)))
    for i, author in enumerate(d.get("author") or []):
        slots.append(RefSlot(f"DocumentReference.author[{i}]", _ref(author), ("Practitioner", "Organization", "Device")))
    if "authenticator" in d:
        slots.append(RefSlot("DocumentReference.authenticator", _ref(d["authenticator"]), ("Practitioner", "Organization")))
    if "custodian" in d:
        slots.append(RefSlot("DocumentReference.custodian", _ref(d["custodian"]), ("Organization",)))
    for i, rel in enumerate(d.get("relatesTo") or []):
        slots.append(RefSlot(f"DocumentReference.relatesTo[{i}].target", _ref(rel.get("target")), ("DocumentReference",)))
    return slots


def communication_request_rules(cr: dict, ctx: RuleContext) -> list[Issue]:
    issues = []
    if cr.get("status") not in CR_CREATE_STATUSES:
        issues.append(Issue("code-invalid", "CommunicationRequest.status must be suspended or active when it is "
                                            "created", "CommunicationRequest.status"))
    required = {"subject": "the Patient", "sender": "the sender (Practitioner or Organization)"}
    for name, what in required.items():
        if not cr.get(name):
            issues.append(Issue("required", f"CommunicationRequest.{name} is required: {what}",
                                f"CommunicationRequest.{name}"))
    if not cr.get("payload"):
        issues.append(Issue("required", "CommunicationRequest.payload is required: the DocumentReference to send",
                            "CommunicationRequest.payload"))
    for i, payload in enumerate(cr.get("payload") or []):
        if "contentReference" not in payload:
            issues.append(Issue("value", f"CommunicationRequest.payload[{i}] must be a contentReference to a "
                                         "DocumentReference", f"CommunicationRequest.payload[{i}]"))
    if not cr.get("recipient"):
        issues.append(Issue("required", "CommunicationRequest.recipient is required: the DMP Device",
                            "CommunicationRequest.recipient"))
    return issues


def communication_request_refs(cr: dict) -> list[RefSlot]:
    slots = []
    if cr.get("subject"):
        slots.append(RefSlot("CommunicationRequest.subject", _ref(cr["subject"]), ("Patient",)))
    for i, payload in enumerate(cr.get("payload") or []):
        if "contentReference" in payload:
            slots.append(RefSlot(f"CommunicationRequest.payload[{i}].contentReference",
                                 _ref(payload["contentReference"]), ("DocumentReference",)))
    for i, recipient in enumerate(cr.get("recipient") or []):
        slots.append(RefSlot(f"CommunicationRequest.recipient[{i}]", _ref(recipient), ("Device",)))
    for i, ext in enumerate(cr.get("extension") or []):
        if ext.get("url") == ACTIVE_DEVICES_EXTENSION:
            slots.append(RefSlot(f"CommunicationRequest.extension[{i}].valueReference",
                                 _ref(ext.get("valueReference")), ("Device",)))
    if cr.get("sender"):
        slots.append(RefSlot("CommunicationRequest.sender", _ref(cr["sender"]), ("Practitioner", "Organization")))
    agent = (cr.get("requester") or {}).get("agent")
    if agent:
        slots.append(RefSlot("CommunicationRequest.requester.agent", _ref(agent), ("Organization",)))
    return slots


def _ref(value: object) -> object:
    return value.get("reference") if isinstance(value, dict) else value


def _no_rules(_: dict, __: RuleContext) -> list[Issue]:
    return []


def _no_refs(_: dict) -> list[RefSlot]:
    return []


@dataclass(frozen=True)
class ProfileRules:
    check: Callable[[dict, RuleContext], list[Issue]]
    references: Callable[[dict], list[RefSlot]]


_RULES = {
    "Patient": ProfileRules(patient_rules, _no_refs),
    "DocumentReference": ProfileRules(document_reference_rules, document_reference_refs),
    "CommunicationRequest": ProfileRules(communication_request_rules, communication_request_refs),
}


def rules_for(resource_type: str) -> ProfileRules:
    return _RULES.get(resource_type, ProfileRules(_no_rules, _no_refs))
