"""STU3 resources shaped like the seed flow's (seed-flow.md §3-§5), with ANS test identities."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from dmp_gateway.cda.examples import example_pdf
from dmp_gateway.fhir.cda_mapping import RequestResources

NIR = "279035121518989"  # PAT-TROIS Dominique, F, born 1979-03-28 in COG 51215 (ANS kit)
UNIQUE_ID = "1.2.250.1.999.1.1.8121.4.77"
SET_ID = "1.2.250.1.999.1.1.8121.5.77"


def seed_patient() -> dict[str, Any]:
    """The seed's Patient: NIR-OD identifier, name, birthDate, multipleBirthInteger; no gender/birthplace."""
    return {
        "resourceType": "Patient", "id": "pat-1",
        "identifier": [{"use": "usual", "type": {"coding": [{
            "system": "http://lifen.fr/fhir/ValueSet/patient-identifier-type", "version": "1.0",
            "code": "NIR-OD", "display": "NIR ouvrant-droit"}]},
            "system": "http://lifen.fr/fhir/Identifier/patient-nir-od", "value": NIR}],
        "name": [{"family": "PAT-TROIS", "given": ["DOMINIQUE", "MARIE-LOUISE"]}],
        "birthDate": "1979-03-28",
        "multipleBirthInteger": 1,
    }


def practitioner() -> dict[str, Any]:
    return {
        "resourceType": "Practitioner", "id": "12",
        "identifier": [{"system": "http://lifen.fr/fhir/Identifier/practitioner-rpps", "value": "10002422979"}],
        "name": [{"family": "CHARLES", "given": ["Pascal"], "prefix": ["Dr"]}],
        "qualification": [{"code": {"coding": [{"system": "urn:oid:1.2.250.1.213.1.1.4.5", "code": "G15_10/SM26"}]}}],
    }


def organization(identifier: dict[str, Any] | None = None, oid: str = "5") -> dict[str, Any]:
    return {
        "resourceType": "Organization", "id": oid, "name": "Cabinet test",
        "identifier": [identifier or {"system": "http://finess.sante.gouv.fr", "value": "120459876"}],
    }


def document_reference() -> dict[str, Any]:
    return {
        "resourceType": "DocumentReference", "id": "doc-1", "status": "current",
        "type": {"coding": [{"system": "http://loinc.org", "code": "11488-4",
                             "display": "CR ou fiche de consultation ou de visite"}]},
        "subject": {"reference": "Patient/pat-1"},
        "created": "2025-03-01T10:15:00+01:00",
        "indexed": "2025-03-01T10:16:00+01:00",
        "description": "Compte rendu de consultation",
        "content": [{"attachment": {"contentType": "application/pdf", "url": "Binary/bin-1"}}],
        "context": {
            "period": {"start": "2025-03-01T10:00:00+01:00"},
            "facilityType": {"coding": [{"system": "urn:oid:1.2.250.1.71.4.2.4", "code": "SA07"}]},
            "practiceSetting": {"coding": [{"system": "urn:oid:1.2.250.1.213.1.1.4.9", "code": "AMBULATOIRE"}]},
        },
    }


def request_resources(pdf: bytes | Path | None = None, **changes: Any) -> RequestResources:
    """A complete request as the seed's user-token flow produces it; keyword arguments replace fields."""
    values: dict[str, Any] = dict(
        patient=seed_patient(), document_reference=document_reference(), sender=practitioner(),
        requester=organization(), pdf=pdf if pdf is not None else example_pdf(pdfa=("1", "B")),
        unique_id=UNIQUE_ID, set_id=SET_ID)
    values.update(changes)
    return RequestResources(**copy.deepcopy(values))
