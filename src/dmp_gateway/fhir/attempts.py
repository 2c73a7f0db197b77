"""What a delivery attempt already read of its CommunicationRequest and DocumentReference.

An attempt reads the request when it starts (to set it `active`), again to find the patient, again
when it finishes (to set it `completed`), and the DocumentReference once to build the CDA and again
to record the DMP uniqueId: five reads of two resources that rarely change in the meantime. The
attempt's steps share the copies kept here instead, and every write built from a kept copy is
conditional on its version (`PostgresResourceStore.replace_if_current`): a resource somebody changed
in between is read again and the change made on the fresh copy, never over theirs.

Per process, keyed by request id: one job per request runs at a time (a job per delivery, under a
procrastinate lock), and the bound only stops a slow leak from attempts that ended early.
"""

from __future__ import annotations

from dmp_gateway.lru import Lru
from dmp_gateway.store.resources import StoredResource

#: Attempts in flight per worker are far fewer (DMPGW_WORKER_CONCURRENCY, 128 by default).
_MAX_ATTEMPTS = 1024


class AttemptResources:
    """The request and document an attempt last read or wrote, by request id."""

    def __init__(self, size: int = _MAX_ATTEMPTS) -> None:
        self._requests: Lru[str, StoredResource] = Lru(size)
        self._documents: Lru[str, StoredResource] = Lru(size)

    def keep_request(self, request_id: str, stored: StoredResource) -> None:
        self._requests.put(request_id, stored)

    def request(self, request_id: str) -> StoredResource | None:
        return self._requests.get(request_id)

    def keep_document(self, request_id: str, stored: StoredResource) -> None:
        self._documents.put(request_id, stored)

    def document(self, request_id: str) -> StoredResource | None:
        return self._documents.get(request_id)

    def forget(self, request_id: str) -> None:
        """The attempt is over: its copies are not trusted for the next one (which reads afresh)."""
        self._requests.pop(request_id)
        self._documents.pop(request_id)
