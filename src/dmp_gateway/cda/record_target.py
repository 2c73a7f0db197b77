"""recordTarget: the patient's INS, local id and identity traits.

Rules (cda-structuration-minimale.md §3, CI-SISRecordTarget): one name whose family parts carry a BR or
CL qualifier; an unqualified `given` holding the list of birth given names and a `given` BR holding the
first one; with an INS root also the sex and `birthplace/place/addr/county` (INSEE COG).
"""

from __future__ import annotations

from dmp_gateway.cda import valuesets
from dmp_gateway.cda.elements import Element, coded, ii, sub, text, ts
from dmp_gateway.cda.inputs import PatientIdentity
from dmp_gateway.cda.ns import sdtc


def record_target(parent: Element, patient: PatientIdentity) -> Element:
    """recordTarget/patientRole with ids, then the patient's identity."""
    target = sub(parent, "recordTarget")
    role = sub(target, "patientRole")
    if patient.ins is not None:
        ii(role, "id", patient.ins.oid, patient.ins.value)
    if patient.local_id is not None:
        ii(role, "id", patient.local_id.root, patient.local_id.extension)
    person = sub(role, "patient", classCode="PSN")
    _name(person, patient)
    assert patient.gender is not None, "checked by cda.checks"
    coded(person, "administrativeGenderCode", valuesets.genders().concepts[patient.gender.value])
    ts(person, "birthTime", patient.birth_date)
    if patient.multiple_birth_order is not None:
        order = person.makeelement(sdtc("multipleBirthOrderNumber"), value=str(patient.multiple_birth_order))
        person.append(order)
    if patient.birth_place_code is not None:
        address = sub(sub(sub(person, "birthplace"), "place"), "addr")
        text(address, "county", patient.birth_place_code)
    return target


def _name(person: Element, patient: PatientIdentity) -> None:
    name = sub(person, "name")
    text(name, "family", patient.birth_family_name, qualifier="BR")
    text(name, "given", " ".join(patient.birth_given_names))
    text(name, "given", patient.birth_given_names[0], qualifier="BR")
    if patient.used_family_name is not None:
        text(name, "family", patient.used_family_name, qualifier="CL")
    if patient.used_given_name is not None:
        text(name, "given", patient.used_given_name, qualifier="CL")
