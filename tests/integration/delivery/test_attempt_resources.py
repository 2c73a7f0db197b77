"""An attempt writes its outcome from the request and document it read, never over somebody's change.

The request read when the attempt starts and the DocumentReference read to build the CDA are kept
for the outcome (fhir/attempts.py): one read each instead of three. A write from a kept copy only
lands on the version it was read at; a resource changed in between is read again and the outcome
applied to the change.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dmp_gateway.delivery.model import Delivery, Outcome
from dmp_gateway.delivery.states import State
from dmp_gateway.fhir.attempts import AttemptResources
from dmp_gateway.fhir.codes import XDS_UNIQUE_ID_SYSTEM
from dmp_gateway.fhir.outcome import FhirResourceEffects
from dmp_gateway.fhir.search_params import index_rows
from dmp_gateway.store.deliveries import PostgresDeliveryStore
from dmp_gateway.store.resources import PostgresResourceStore

WS = "ws-attempts"
UNIQUE_ID = "1.2.250.1.999.1.4.42"


@pytest.fixture
def resources(resource_store):
    return resource_store


async def _create(resources: PostgresResourceStore, body: dict) -> str:
    stored = await resources.create(body["resourceType"], WS, body, index_rows(body["resourceType"], body))
    return stored.id


async def _request(resources: PostgresResourceStore) -> tuple[str, str]:
    docref = await _create(resources, {"resourceType": "DocumentReference", "status": "current",
                                       "description": "as posted"})
    cr = await _create(resources, {
        "resourceType": "CommunicationRequest", "status": "active",
        "subject": {"reference": "Patient/p1"},
        "payload": [{"contentReference": {"reference": f"DocumentReference/{docref}"}}]})
    return cr, docref


def _delivery(request_id: str) -> Delivery:
    return Delivery(request_id=request_id, workspace_id=WS, patient_id="p1", state=State.SUBMITTING, immediate=True)


async def _finish(effects: FhirResourceEffects, resources: PostgresResourceStore, delivery: Delivery) -> None:
    async with resources.transaction() as conn:
        await effects.finished(conn, delivery, Outcome(delivered=True, at=datetime.now(UTC), unique_id=UNIQUE_ID))


async def _attempt_under_way(resources: PostgresResourceStore) -> tuple[str, str, AttemptResources,
                                                                      FhirResourceEffects, Delivery]:
    """A request whose attempt started and read its document, as the worker has it before the outcome."""
    cr_id, docref_id = await _request(resources)
    attempts = AttemptResources()
    effects = FhirResourceEffects(resources, attempts)
    delivery = _delivery(cr_id)
    async with resources.pool.connection() as conn:
        await effects.started(conn, delivery)
    attempts.keep_document(cr_id, await resources.read_any("DocumentReference", docref_id))
    return cr_id, docref_id, attempts, effects, delivery


async def test_the_outcome_is_written_from_the_kept_copies_when_nothing_changed(resources):
    cr_id, docref_id, attempts, effects, delivery = await _attempt_under_way(resources)
    assert attempts.request(cr_id).version == 1  # already active: read, not written

    await _finish(effects, resources, delivery)

    cr = await resources.read_any("CommunicationRequest", cr_id)
    docref = await resources.read_any("DocumentReference", docref_id)
    assert (cr.version, cr.as_dict()["status"]) == (2, "completed")
    assert docref.version == 2
    assert {"system": XDS_UNIQUE_ID_SYSTEM, "value": UNIQUE_ID} in docref.as_dict()["identifier"]
    assert attempts.request(cr_id) is None and attempts.document(cr_id) is None  # the attempt is over


async def test_a_request_and_document_changed_during_the_attempt_keep_the_change(resources):
    cr_id, docref_id, attempts, effects, delivery = await _attempt_under_way(resources)

    # Somebody updates both while the document is on its way to the DMP.
    cr = (await resources.read_any("CommunicationRequest", cr_id)).as_dict()
    cr["note"] = [{"text": "called the patient"}]
    await resources.update("CommunicationRequest", cr_id, WS, cr, index_rows("CommunicationRequest", cr))
    docref = (await resources.read_any("DocumentReference", docref_id)).as_dict()
    docref["description"] = "corrected title"
    await resources.update("DocumentReference", docref_id, WS, docref, index_rows("DocumentReference", docref))

    await _finish(effects, resources, delivery)

    cr = await resources.read_any("CommunicationRequest", cr_id)
    assert cr.version == 3
    assert cr.as_dict()["status"] == "completed" and cr.as_dict()["note"] == [{"text": "called the patient"}]
    docref = await resources.read_any("DocumentReference", docref_id)
    assert docref.version == 3 and docref.as_dict()["description"] == "corrected title"
    assert {"system": XDS_UNIQUE_ID_SYSTEM, "value": UNIQUE_ID} in docref.as_dict()["identifier"]


async def test_a_conditional_replace_refuses_a_version_that_is_no_longer_current(resources):
    cr_id, _ = await _request(resources)
    stored = await resources.read_any("CommunicationRequest", cr_id)
    body = stored.as_dict() | {"status": "suspended"}
    assert await resources.replace_if_current("CommunicationRequest", cr_id, WS, body,
                                              index_rows("CommunicationRequest", body), 1) is not None
    assert await resources.replace_if_current("CommunicationRequest", cr_id, WS, body,
                                              index_rows("CommunicationRequest", body), 1) is None
    assert (await resources.read_any("CommunicationRequest", cr_id)).version == 2


async def test_the_start_reads_the_request_as_it_is_now_with_its_transition(resources):
    cr_id, docref_id = await _request(resources)
    cr = (await resources.read_any("CommunicationRequest", cr_id)).as_dict() | {"status": "suspended"}
    await resources.update("CommunicationRequest", cr_id, WS, cr, index_rows("CommunicationRequest", cr))
    attempts = AttemptResources()
    given = []

    class Recording(FhirResourceEffects):
        async def started(self, conn, delivery, request=None) -> None:  # noqa: ANN001
            given.append(request)
            await super().started(conn, delivery, request)

    store = PostgresDeliveryStore(resources.pool, Recording(resources, attempts))
    async with resources.pool.connection() as conn:
        await store.register(conn, cr_id, WS, "p1", docref_id, immediate=True)

    delivery = await store.start(cr_id)

    assert delivery.state is State.CHECKING_DMP and delivery.attempts == 1
    assert [(r.version, r.as_dict()["status"]) for r in given] == [(2, "suspended")]  # no read of its own
    kept = attempts.request(cr_id)  # version 2 read with the transition, then set active as version 3
    assert (kept.version, kept.as_dict()["status"]) == (3, "active")
    assert (await resources.read_any("CommunicationRequest", cr_id)).version == 3
