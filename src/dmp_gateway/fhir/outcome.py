"""The FHIR side of a delivery: CommunicationRequest.status, the outcome Communication, and the
delivered DocumentReference's identifiers (seed-flow.md §6; Lifen's Communication profile §6.2).

Called by the delivery store inside its transactions, so a state and its resources change together.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from psycopg import AsyncConnection

from dmp_gateway.delivery.model import Delivery, Outcome
from dmp_gateway.fhir.attempts import AttemptResources
from dmp_gateway.fhir.codes import (CDA_SET_ID_SYSTEM, CDA_VERSION_SYSTEM, DEFAULT_TAG, DELIVERY_REASON_SYSTEM,
                                    DMP_ERROR_SYSTEM, MEDIUM_SYSTEM, XDS_UNIQUE_ID_SYSTEM)
from dmp_gateway.fhir.search_params import index_rows
from dmp_gateway.store.resources import NewResource, NextVersion, PostgresResourceStore, StoredResource


def _iso(outcome: Outcome) -> str:
    return outcome.at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def communication(cr: dict, outcome: Outcome) -> dict:
    """The outcome Communication: `completed` (the seed's "success") or `entered-in-error` with the reason."""
    body: dict = {
        "resourceType": "Communication",
        "meta": {"tag": [DEFAULT_TAG]},
        "basedOn": [{"reference": f"CommunicationRequest/{cr['id']}"}],
        "status": "completed" if outcome.delivered else "entered-in-error",
        "category": cr.get("category") or [],
        "medium": [{"coding": [{"system": MEDIUM_SYSTEM, "code": "DMP", "display": "DMP (Mon Espace Santé)"}]}],
        "subject": cr.get("subject"),
        "recipient": cr.get("recipient") or [],
        "sender": cr.get("sender"),
        "payload": [{"contentReference": p["contentReference"]} for p in cr.get("payload") or [] if "contentReference" in p],
    }
    if outcome.delivered:
        body["sent"] = _iso(outcome)
        if outcome.unique_id:
            body["identifier"] = [{"system": XDS_UNIQUE_ID_SYSTEM, "value": outcome.unique_id}]
    else:
        codings = [{"system": DELIVERY_REASON_SYSTEM, "code": outcome.reason.value if outcome.reason else "error"}]
        if outcome.dmp_code:
            codings.append({"system": DMP_ERROR_SYSTEM, "code": outcome.dmp_code})
        body["notDone"] = True
        body["notDoneReason"] = {"coding": codings, "text": outcome.text}
        body["received"] = _iso(outcome)
    return {k: v for k, v in body.items() if v not in (None, [])}


@dataclass
class FhirResourceEffects:
    """ResourceEffects (store/deliveries.py) written as FHIR resources."""

    resources: PostgresResourceStore
    #: The request (and document) as the attempt last read them, shared with `RequestDocuments`.
    attempts: AttemptResources = field(default_factory=AttemptResources)

    async def _set_request_status(self, conn: AsyncConnection, delivery: Delivery, status: str,
                                  kept: StoredResource | None = None) -> StoredResource:
        """The request with `status`, written only if it had another one. `kept`: a copy read earlier in
        the attempt, written over only if still current; else the request is read again."""
        if kept is not None:
            cr = kept.as_dict()
            if cr.get("status") == status:
                return kept
            cr["status"] = status
            written = await self.resources.replace_if_current(
                "CommunicationRequest", cr["id"], delivery.workspace_id, cr, index_rows("CommunicationRequest", cr),
                kept.version, conn)
            if written is not None:
                return written
        stored = await self.resources.read_any("CommunicationRequest", delivery.request_id, conn)
        cr = stored.as_dict()
        if cr.get("status") == status:
            return stored
        cr["status"] = status
        return await self.resources.update("CommunicationRequest", cr["id"], delivery.workspace_id, cr,
                                           index_rows("CommunicationRequest", cr), conn=conn,
                                           known_version=stored.version)

    async def started(self, conn: AsyncConnection, delivery: Delivery, request: StoredResource | None = None) -> None:
        """`request`: its current version, when the caller just read it (`start` does, with the transition).
        What the attempt's next steps (patient, CDA, outcome) work from."""
        self.attempts.forget(delivery.request_id)
        self.attempts.keep_request(delivery.request_id,
                                   await self._set_request_status(conn, delivery, "active", request))

    async def cancelled(self, conn: AsyncConnection, delivery: Delivery) -> None:
        self.attempts.forget(delivery.request_id)
        await self._set_request_status(conn, delivery, "cancelled")

    async def finished(self, conn: AsyncConnection, delivery: Delivery, outcome: Outcome) -> None:
        """The request's status, its Communication and the document's DMP identifiers: one statement
        from the attempt's copies (`write_together`), then a fresh read and write for any copy that
        somebody changed meanwhile. Inside the store's transaction, so they land with the state."""
        kept_request = self.attempts.request(delivery.request_id)
        kept_document = self.attempts.document(delivery.request_id)
        self.attempts.forget(delivery.request_id)
        request = kept_request or await self.resources.read_any("CommunicationRequest", delivery.request_id, conn)
        # Failed requests go back to `suspended`: visible, fixable, ready for $retry (issue 5).
        status = "completed" if outcome.delivered else "suspended"
        cr = request.as_dict()
        writes: list[NewResource | NextVersion] = []
        if cr.get("status") != status:
            cr["status"] = status
            writes.append(NextVersion("CommunicationRequest", cr["id"], delivery.workspace_id, cr,
                                      index_rows("CommunicationRequest", cr), request.version))
        # Built from the copy: what it takes from the request (subject, sender, recipient, payload,
        # category) is set when the request is posted, which has no update (only $send, $retry, $cancel).
        comm = communication(cr, outcome)
        writes.append(NewResource("Communication", str(uuid.uuid4()), delivery.workspace_id, comm,
                                  index_rows("Communication", comm)))
        if outcome.delivered and outcome.unique_id:
            for docref_id in _payload_documents(cr):
                stored = kept_document if kept_document is not None and kept_document.id == docref_id else (
                    await self.resources.read_any("DocumentReference", docref_id, conn))
                docref = await self._identified(conn, stored, outcome.unique_id)
                writes.append(NextVersion("DocumentReference", docref_id, delivery.workspace_id, docref,
                                          index_rows("DocumentReference", docref), stored.version))
        written = await self.resources.write_together(writes, conn)
        for write, result in zip(writes, written):
            if result is not None or not isinstance(write, NextVersion):
                continue
            if write.res_type == "CommunicationRequest":  # changed since it was read: again, on the current one
                await self._set_request_status(conn, delivery, status)
            else:
                stored = await self.resources.read_any("DocumentReference", write.res_id, conn)
                docref = await self._identified(conn, stored, outcome.unique_id or "")
                await self.resources.update("DocumentReference", stored.id, delivery.workspace_id, docref,
                                            index_rows("DocumentReference", docref), conn=conn,
                                            known_version=stored.version)

    async def _identified(self, conn: AsyncConnection, stored: StoredResource, unique_id: str) -> dict:
        """The DocumentReference with the DMP uniqueId, setId and version among its identifiers."""
        from dmp_gateway.fhir.documents import document_set  # the same set/version rule as the CDA's

        docref = stored.as_dict()
        set_id, version = await document_set(self.resources, docref, unique_id, conn)
        mine = {XDS_UNIQUE_ID_SYSTEM: unique_id, CDA_SET_ID_SYSTEM: set_id, CDA_VERSION_SYSTEM: str(version)}
        docref["identifier"] = [i for i in docref.get("identifier") or [] if i.get("system") not in mine] + [
            {"system": system, "value": value} for system, value in mine.items()]
        return docref


def _payload_documents(cr: dict) -> list[str]:
    """Ids of the DocumentReferences a request's payload carries."""
    refs = ((payload.get("contentReference") or {}).get("reference", "") for payload in cr.get("payload") or [])
    return [ref.split("/", 1)[1] for ref in refs if ref.startswith("DocumentReference/")]
