"""Posting a CommunicationRequest starts its delivery, in the same transaction (seed-flow.md §6).

With the IMMEDIATE_MODE tag the job is enqueued at once; without it the delivery waits for an
operator's validation ($send or the console).
"""

from __future__ import annotations

from psycopg import AsyncConnection

from dmp_gateway.fhir.codes import IMMEDIATE_MODE, PROCESSING_MODE_SYSTEM
from dmp_gateway.fhir.references import parse_reference
from dmp_gateway.store.deliveries import PostgresDeliveryStore
from dmp_gateway.store.resources import OnWrite, StoredResource


def is_immediate(cr: dict) -> bool:
    return any(tag.get("system") == PROCESSING_MODE_SYSTEM and tag.get("code") == IMMEDIATE_MODE
               for tag in (cr.get("meta") or {}).get("tag") or [])


def communication_request_hook(deliveries: PostgresDeliveryStore):  # noqa: ANN201 - WriteHookFactory
    def factory(caller: object, cr: dict) -> OnWrite:
        patient = parse_reference((cr.get("subject") or {}).get("reference"))
        docref = parse_reference(((cr.get("payload") or [{}])[0].get("contentReference") or {}).get("reference"))
        assert patient is not None and docref is not None  # guaranteed by the profile rules

        async def on_write(conn: AsyncConnection, stored: StoredResource) -> None:
            if stored.version == 1:
                await deliveries.register(conn, stored.id, stored.workspace_id, patient.id, docref.id,
                                          is_immediate(cr))

        return on_write

    return factory
