"""Posting a CommunicationRequest starts its delivery, in the same statement (seed-flow.md §6).

With the IMMEDIATE_MODE tag the job is enqueued at once; without it the delivery waits for an
operator's validation ($send or the console).
"""

from __future__ import annotations

from collections.abc import Mapping

from dmp_gateway import ins
from dmp_gateway.fhir.codes import IMMEDIATE_MODE, PROCESSING_MODE_SYSTEM
from dmp_gateway.fhir.references import parse_reference
from dmp_gateway.fhir.security import Caller
from dmp_gateway.store.deliveries import PostgresDeliveryStore, job_lock
from dmp_gateway.store.errors import ResourceNotFound
from dmp_gateway.store.resources import CreatedAlso, PostgresResourceStore, StoredResource


def is_immediate(cr: dict) -> bool:
    return any(tag.get("system") == PROCESSING_MODE_SYSTEM and tag.get("code") == IMMEDIATE_MODE
               for tag in (cr.get("meta") or {}).get("tag") or [])


def person_ins(patient: dict) -> str | None:
    """The INS value that names the person, to order their jobs; None when the Patient has no valid one
    (its delivery then fails on the identity, and only its own Patient resource orders it)."""
    for identifier in patient.get("identifier") or []:
        if isinstance(identifier, dict) and identifier.get("system") in ins.INS_SYSTEMS:
            value = identifier.get("value")
            matricule = value.replace(" ", "").upper() if isinstance(value, str) else ""
            if ins.check_matricule(matricule) is None:
                return matricule
    return None


def patient_lock(workspace_id: str, patient_id: str, patient: StoredResource | None) -> str:
    """The job lock of a request about `patient_id`, from that Patient (None: gone, its own lock)."""
    return job_lock(workspace_id, patient_id, person_ins(patient.as_dict()) if patient is not None else None)


async def request_lock(resources: PostgresResourceStore, workspace_id: str, patient_id: str) -> str:
    """The job lock of a request about `patient_id`, from the Patient as it stands now."""
    try:
        patient = await resources.read_any("Patient", patient_id)
    except ResourceNotFound:  # checked when the request was written; gone since: the delivery will say so
        patient = None
    return patient_lock(workspace_id, patient_id, patient)


def communication_request_hook(deliveries: PostgresDeliveryStore):  # noqa: ANN201 - WriteHookFactory
    def factory(caller: Caller, cr: dict, referenced: Mapping[tuple[str, str], StoredResource]) -> CreatedAlso:
        patient = parse_reference((cr.get("subject") or {}).get("reference"))
        docref = parse_reference(((cr.get("payload") or [{}])[0].get("contentReference") or {}).get("reference"))
        assert patient is not None and docref is not None  # guaranteed by the profile rules
        # The delivery, its first timeline events and its job are written by the statement that
        # creates the request: there is never one without the other, and no transaction to open. The
        # lock comes from the Patient as the request's reference check read it, just before.
        lock = patient_lock(caller.workspace.id, patient.id, referenced.get(("Patient", patient.id)))
        return deliveries.registration(patient.id, docref.id, is_immediate(cr), lock=lock)

    return factory
