"""`InMemoryDmp`: the DMP port without a network, for unit tests and the in-memory wiring.

It behaves as the registry does where the delivery layer cares (notes/style.md §2.3): documents by
uniqueId, `Duplicate` when a uniqueId is sent again, RPLC deprecates the replaced entry, ITI-57
changes availability, TD0.2 answers from settable patient states, and scripted faults
(`fail_next(Transient, times=2)`) fire before the next calls. The CDA header is checked with the
same rules as `SoapDmp`, so an invalid submission fails identically on both.
"""

from __future__ import annotations

import uuid
from collections import deque
from dataclasses import dataclass

from dmp_gateway.dmp import namespaces as ns
from dmp_gateway.dmp.cda_header import read_cda_header
from dmp_gateway.dmp.errors import DmpError, Duplicate, OutcomeUnknown, Permanent
from dmp_gateway.dmp.iti41 import sha1_hex
from dmp_gateway.dmp.metadata import check_header
from dmp_gateway.dmp.types import DmpState, DmpStatus, FoundDocument, NewStatus, Receipt, Submission
from dmp_gateway.ins import Ins

OPERATIONS = ("dmp_status", "submit", "find", "update_status")


@dataclass(slots=True)
class StoredDocument:
    """One registered entry, as the registry keeps it."""

    ins: Ins
    cda: bytes
    submission: Submission
    entry_uuid: str
    status: str = ns.STATUS_APPROVED

    def found(self) -> FoundDocument:
        return FoundDocument(
            unique_id=self.submission.unique_id, hash=sha1_hex(self.cda), size=len(self.cda), status=self.status,
            entry_uuid=self.entry_uuid, patient_id=self.ins.cx, mime_type="text/xml",
        )


@dataclass(slots=True)
class _Fault:
    error: type[DmpError]
    operation: str | None
    code: str | None
    #: For `OutcomeUnknown` on submit: whether the DMP did register the document before the answer was lost.
    applied: bool


class InMemoryDmp:
    """Implements the `DmpPort` protocol in memory (see module docstring)."""

    def __init__(self, *, default_state: DmpState = DmpState.OPEN) -> None:
        self.default_state = default_state
        #: Patient states by INS value (TD0.2 answers).
        self.patients: dict[str, DmpStatus] = {}
        #: Registered documents by uniqueId.
        self.documents: dict[str, StoredDocument] = {}
        #: Every call, in order: (operation, ins value, uniqueId or None).
        self.calls: list[tuple[str, str, str | None]] = []
        self._faults: deque[_Fault] = deque()

    # --- scripting ---------------------------------------------------------------------------------
    def set_patient(self, ins: Ins | str, state: DmpState, **details: object) -> None:
        """Set what TD0.2 answers for this patient (`closed_on=`, `closed_reason=`, `authorization=`)."""
        key = ins.value if isinstance(ins, Ins) else ins
        self.patients[key] = DmpStatus(state, **details)  # type: ignore[arg-type]

    def fail_next(self, error: type[DmpError], times: int = 1, *, operation: str | None = None,
                  code: str | None = None, applied: bool | None = None) -> None:
        """Make the next `times` calls (of `operation`, or any) raise `error`.

        An `OutcomeUnknown` on submit defaults to `applied=True`: the document is registered but the
        answer is lost, the case the delivery layer must resolve with `find` before resending.
        """
        if operation is not None and operation not in OPERATIONS:
            raise ValueError(f"operation must be one of {OPERATIONS}")
        effective = applied if applied is not None else issubclass(error, OutcomeUnknown)
        for _ in range(times):
            self._faults.append(_Fault(error, operation, code, effective))

    def unique_ids_for(self, ins: Ins) -> list[str]:
        return [uid for uid, doc in self.documents.items() if doc.ins == ins]

    def _fault_for(self, operation: str) -> _Fault | None:
        for fault in self._faults:
            if fault.operation in (None, operation):
                self._faults.remove(fault)
                return fault
        return None

    def _raise(self, fault: _Fault) -> None:
        raise fault.error(f"scripted {fault.error.__name__}", code=fault.code or f"SCRIPTED_{fault.error.__name__.upper()}")

    # --- the port ----------------------------------------------------------------------------------
    async def dmp_status(self, ins: Ins) -> DmpStatus:
        self.calls.append(("dmp_status", ins.value, None))
        fault = self._fault_for("dmp_status")
        if fault:
            self._raise(fault)
        return self.patients.get(ins.value, DmpStatus(self.default_state))

    async def submit(self, submission: Submission) -> Receipt:
        self.calls.append(("submit", submission.ins.value, submission.unique_id))
        fault = self._fault_for("submit")
        if fault and not fault.applied:
            self._raise(fault)
        check_header(read_cda_header(submission.cda), submission.ins, submission.unique_id)
        if submission.unique_id in self.documents:
            raise Duplicate("XDSDuplicateUniqueIdInRegistry", code="XDSDuplicateUniqueIdInRegistry",
                            location=submission.unique_id)
        status = self.patients.get(submission.ins.value, DmpStatus(self.default_state))
        if status.state is not DmpState.OPEN:
            raise Permanent(f"the patient's DMP is {status.state.value}", code="XDSUnknownPatientId")
        if submission.replaces_unique_id:
            old = self.documents.get(submission.replaces_unique_id)
            if old is None or old.status != ns.STATUS_APPROVED:
                raise Permanent("the replaced document is not an approved entry",
                                code="XDSRegistryDeprecatedDocumentError", location=submission.replaces_unique_id)
            old.status = ns.STATUS_DEPRECATED
        self.documents[submission.unique_id] = StoredDocument(
            submission.ins, submission.cda, submission, f"urn:uuid:{uuid.uuid4()}")
        if fault:
            self._raise(fault)
        return Receipt(
            unique_id=submission.unique_id,
            submission_set_unique_id=submission.effective_submission_set_unique_id,
            signature_unique_id=submission.effective_signature_unique_id,
            hash=sha1_hex(submission.cda), size=len(submission.cda),
        )

    async def find(self, ins: Ins, unique_id: str) -> FoundDocument | None:
        self.calls.append(("find", ins.value, unique_id))
        fault = self._fault_for("find")
        if fault:
            self._raise(fault)
        stored = self.documents.get(unique_id)
        return stored.found() if stored else None

    async def update_status(self, ins: Ins, unique_id: str, new_status: NewStatus) -> None:
        self.calls.append(("update_status", ins.value, unique_id))
        fault = self._fault_for("update_status")
        if fault:
            self._raise(fault)
        stored = self.documents.get(unique_id)
        if stored is None:
            raise Permanent("no such document in the DMP", code="DOCUMENT_NOT_FOUND", location=unique_id)
        stored.status = new_status.value

    async def aclose(self) -> None:
        return None


__all__ = ["InMemoryDmp", "OPERATIONS", "StoredDocument"]
