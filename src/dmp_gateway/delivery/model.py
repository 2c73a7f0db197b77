"""Values of the delivery use case (stdlib only)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from dmp_gateway.delivery.states import State
from dmp_gateway.ins import Ins


class Reason(str, Enum):
    """Why a delivery failed: the codes of the gateway's CodeSystem, shown in Communication.notDoneReason."""

    DMP_NOT_FOUND = "dmp-not-found"
    DMP_CLOSED = "dmp-closed"
    INVALID_PATIENT_IDENTITY = "invalid-patient-identity"
    CDA_INVALID = "cda-invalid"
    DMP_REJECTED = "dmp-rejected"
    DUPLICATE_DOCUMENT = "duplicate-document"
    DMP_UNAVAILABLE = "dmp-unavailable"
    CONFIGURATION_ERROR = "configuration-error"
    ACCESS_DENIED = "access-denied"
    INTERNAL_ERROR = "internal-error"


#: What an operator should do, per reason (the Communication text starts with the specifics).
ADVICE = {
    Reason.DMP_NOT_FOUND: "The patient has no DMP: check the NIR/NIA, or ask the patient to open Mon Espace Santé; "
                          "then retry.",
    Reason.DMP_CLOSED: "The patient's DMP is closed: the document cannot be added. Cancel the request.",
    Reason.INVALID_PATIENT_IDENTITY: "Fix the patient's identity (NIR/NIA, sex, birth data) and retry.",
    Reason.CDA_INVALID: "Fix the listed data (document metadata, author, organization) and retry.",
    Reason.DMP_REJECTED: "The DMP refused the document: read its code and text, fix the data, and retry.",
    Reason.DUPLICATE_DOCUMENT: "The DMP already holds a different document with this id: contact support.",
    Reason.DMP_UNAVAILABLE: "The DMP could not be reached after every retry: retry later.",
    Reason.CONFIGURATION_ERROR: "The gateway's DMP configuration (certificates, TLS, endpoint) is wrong: "
                                "fix it, then retry.",
    Reason.ACCESS_DENIED: "The DMP refused the structure's access: check the certificates and rights.",
    Reason.INTERNAL_ERROR: "The gateway hit an unexpected error (logged with its cause): retry; if it happens "
                           "again, contact support.",
}


@dataclass(frozen=True, slots=True)
class Delivery:
    """The delivery of one CommunicationRequest."""

    request_id: str
    workspace_id: str
    #: The Patient resource id (jobs for one patient run in order).
    patient_id: str
    state: State
    #: Processed without waiting for an operator (IMMEDIATE_MODE tag).
    immediate: bool
    #: Attempts since the last (re)start by an operator.
    attempts: int = 0
    #: XDS uniqueId = CDA id: minted once, before the first submission, then never changed.
    unique_id: str | None = None
    #: The CDA is built and stored (its bytes are fixed for every retry).
    has_document: bool = False
    reason: Reason | None = None
    reason_text: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class EmbeddedPdf:
    """Where a CDA's base64 body comes from, so a store can keep the PDF once instead of twice.

    The CDA is ``cda[:head] + base64(PDF) + cda[len(cda) - tail:]``, the PDF being the stored one
    `ref` names (opaque to the use case: the document port and the store agree on it).
    """

    ref: str
    head: int
    tail: int


@dataclass(frozen=True, slots=True)
class BuiltDocument:
    """A CDA ready to send, and what the DMP submission needs besides it."""

    ins: Ins
    cda: bytes
    unique_id: str
    #: uniqueId of the delivered document this one replaces (RPLC).
    replaces_unique_id: str | None = None
    #: What was done about PDF/A (detected level, accepted / converted), recorded with the delivery.
    pdf_record: dict = field(default_factory=dict)
    #: The stored PDF the CDA wraps unchanged, when there is one (None: a converted PDF, kept whole).
    embedded: EmbeddedPdf | None = None
    #: SHA-1 of `cda` in lowercase hex (the XDS hash), computed here from the bytes: one pass over them
    #: for the store, the submission and a duplicate's check.
    sha1: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha1", hashlib.sha1(self.cda).hexdigest())  # noqa: S324 - XDS hash


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """One line of a delivery's timeline."""

    at: datetime
    #: The state entered (or the step attempted).
    step: str
    #: ok, error, retry, info
    outcome: str
    details: dict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a delivery attempt ended, for the Communication the gateway writes."""

    delivered: bool
    at: datetime
    unique_id: str | None = None
    reason: Reason | None = None
    text: str | None = None
    #: The DMP's own code, when it gave one (RegistryError errorCode, TD0.2 detail).
    dmp_code: str | None = None
