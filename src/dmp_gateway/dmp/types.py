"""Values exchanged with the DMP port (stdlib only; `dmp_gateway.ins` is the only import).

`delivery/` programs against these and `dmp/errors.py`; `SoapDmp` (client.py) and `InMemoryDmp`
(memory.py) both produce them. Sources: ../shared/domain/dmp-interfaces.md §3 (TD0.2), §4 (ITI-41),
§6 (ITI-18, ITI-57); xds-metadata.md.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from enum import Enum

from dmp_gateway.dmp.errors import DmpClosed, NoDmp, RegistryErrorItem
from dmp_gateway.ins import Ins


class DmpState(Enum):
    """What TD0.2 says about the patient's DMP."""

    #: The DMP exists and is active: documents may be fed.
    OPEN = "open"
    #: The DMP exists but is closed (patient statusCode `terminated` or detail `DMPClosed`).
    CLOSED = "closed"
    #: The patient has no DMP (queryResponseCode `NF`).
    NOT_FOUND = "not_found"


@dataclass(frozen=True, slots=True)
class DmpStatus:
    """Typed TD0.2 (PRPA_IN201308UV02) answer."""

    state: DmpState
    #: Closing date, when the DMP is closed and the DMP gives it.
    closed_on: date | None = None
    #: Closing motive/reason text, when given.
    closed_reason: str | None = None
    #: The actor's authorisation status (`VALIDE`, `EXPIRE`, `INTERDIT`, `NON_EXISTE`), when given.
    authorization: str | None = None

    def raise_for_state(self) -> None:
        """Raise `NoDmp` / `DmpClosed` unless the DMP is open (for callers that prefer exceptions)."""
        if self.state is DmpState.NOT_FOUND:
            raise NoDmp(code="NF")
        if self.state is DmpState.CLOSED:
            raise DmpClosed(code="DMPClosed", context=self.closed_reason)


@dataclass(frozen=True, slots=True)
class Code:
    """A coded value as XDS carries it: code, coding scheme (OID or URN) and display name."""

    code: str
    scheme: str
    display: str


def derived_oid(*parts: str) -> str:
    """A stable OID under `2.25` (ITU-T X.667, UUID-based) computed from `parts`.

    Used for the ids the gateway must mint identically on every retry (submission set, signature
    entry) when the caller does not pass them. At most 44 characters, under the 64 IHE allows.
    """
    return f"2.25.{uuid.uuid5(uuid.NAMESPACE_OID, '/'.join(parts)).int}"


@dataclass(frozen=True, slots=True)
class Submission:
    """One CDA to feed into a patient's DMP (ITI-41 / TD2.1).

    XDS metadata is derived from the CDA header per the ANS mapping (xds-metadata.md §3), so the
    CDA must already be final. Every id is stable across retries, which makes a late success of an
    earlier attempt show up as `Duplicate` instead of a second copy.
    """

    ins: Ins
    #: The exact CDA bytes to send (hash and size are computed on them).
    cda: bytes
    #: XDSDocumentEntry.uniqueId; must equal the CDA `ClinicalDocument/id` (root, or root^extension).
    unique_id: str
    #: uniqueId of the document this one replaces (RPLC, dmp-interfaces.md §5).
    replaces_unique_id: str | None = None
    #: SHA-1 of `cda` in hex when the caller already has it (the XDS hash); computed from `cda` otherwise.
    cda_sha1: str | None = None
    #: XDSSubmissionSet.uniqueId; default: derived from `unique_id` (stable across retries).
    submission_set_unique_id: str | None = None
    #: uniqueId of the XAdES signature entry; default: derived from `unique_id`.
    signature_unique_id: str | None = None
    #: SubmissionSet contentTypeCode (JDV_J59); default: the connector's configured one.
    content_type: Code | None = None
    #: Extra confidentialityCode occurrences (`MASQUE_PS`, `INVISIBLE_PATIENT`, ...), TRE_A07.
    extra_confidentiality: tuple[Code, ...] = ()

    @property
    def effective_submission_set_unique_id(self) -> str:
        return self.submission_set_unique_id or derived_oid("submission-set", self.unique_id)

    @property
    def effective_signature_unique_id(self) -> str:
        return self.signature_unique_id or derived_oid("signature", self.unique_id)


@dataclass(frozen=True, slots=True)
class Receipt:
    """The DMP accepted the submission (RegistryResponse Success or PartialSuccess)."""

    unique_id: str
    submission_set_unique_id: str
    signature_unique_id: str = ""
    #: SHA-1 (upper-case hex) and size of the CDA as sent.
    hash: str = ""
    size: int = 0
    #: True when the DMP answered PartialSuccess: to flag to operators.
    partial: bool = False
    #: Warnings the DMP attached (PartialSuccess, or Warning severity on Success).
    warnings: tuple[RegistryErrorItem, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class FoundDocument:
    """A DocumentEntry returned by ITI-18 GetDocuments (LeafClass)."""

    unique_id: str
    #: SHA-1 hex of the stored document, as the registry reports it (compare case-insensitively).
    hash: str
    size: int
    #: availabilityStatus URN (`…StatusType:Approved`, `urn:asip:ci-sis:2010:StatusType:Deleted`, ...).
    status: str
    #: Registry-assigned entryUUID (`urn:uuid:…`), needed for RPLC and ITI-57.
    entry_uuid: str = ""
    patient_id: str = ""
    mime_type: str = ""

    def same_content(self, sha1_hex: str, size: int) -> bool:
        """True when this entry holds exactly these bytes (the Duplicate / OutcomeUnknown check)."""
        return self.hash.upper() == sha1_hex.upper() and self.size == size


class NewStatus(Enum):
    """Availability changes of ITI-57 (TD3.3c delete, TD3.3d archive); values are the CI-SIS URNs."""

    DELETED = "urn:asip:ci-sis:2010:StatusType:Deleted"
    ARCHIVED = "urn:asip:ci-sis:2010:StatusType:Archived"


__all__ = [
    "Code",
    "DmpState",
    "DmpStatus",
    "FoundDocument",
    "NewStatus",
    "Receipt",
    "RegistryErrorItem",
    "Submission",
    "derived_oid",
]
