"""Why a DMP call failed, as types the delivery layer can decide on (stdlib only).

    DmpError
      Transient         retry with backoff: nothing reached the DMP, or it answered "busy"
        OutcomeUnknown  sent, but no answer came back: look the uniqueId up (ITI-18) before resending
      Duplicate         XDSDuplicateUniqueIdInRegistry: compare hashes (ITI-18), then decide
      Permanent         stop; keeps the DMP's code and context for the operator
        NoDmp           TD0.2: the patient has no DMP
        DmpClosed       TD0.2: the patient's DMP is closed
        InvalidSubmission  refused before sending: the submission breaks a DMP rule (field + rule)
      Configuration     certificate / TLS / VIHF set-up: alert operators, never retry blindly

Classification table: ../shared/domain/dmp-interfaces.md §9 and notes/style.md §2.4-2.5. Errors carry
structured fields (`code`, `context`, `location`, `errors`, `http_status`) so nobody parses messages.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RegistryErrorItem:
    """One `rs:RegistryError` of a RegistryResponse (ebRS 3.0; IHE ITI TF-3 §4.2.4)."""

    #: `errorCode`, e.g. `XDSRegistryBusy`, `XDSDuplicateUniqueIdInRegistry`.
    code: str
    #: `codeContext`: the DMP's human-readable text.
    context: str
    #: `location`, when given (often the uniqueId or the offending object).
    location: str | None = None
    #: `severity` URN (`…:ErrorSeverityType:Error` or `…:Warning`).
    severity: str = "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error"

    @property
    def is_warning(self) -> bool:
        return self.severity.endswith(":Warning")


class DmpError(Exception):
    """The DMP call failed."""

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        context: str | None = None,
        location: str | None = None,
        errors: tuple[RegistryErrorItem, ...] = (),
        http_status: int | None = None,
    ) -> None:
        super().__init__(message or (self.__doc__ or "").strip().splitlines()[0])
        #: The DMP's error code (RegistryError errorCode, SOAP fault subcode, HL7v3 ack detail code).
        self.code = code
        #: The DMP's text for it (codeContext, fault reason, acknowledgementDetail text).
        self.context = context
        #: Where it applies, when the DMP says so.
        self.location = location
        #: Every RegistryError of the response, errors and warnings, in order.
        self.errors = errors
        #: HTTP status of the answer, when one came back.
        self.http_status = http_status

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r}, code={self.code!r})"


class Transient(DmpError):
    """The DMP could not be reached or is busy; the same request may be sent again later."""


class OutcomeUnknown(Transient):
    """The request was sent but no answer came back; look the document up before resending."""


class Duplicate(DmpError):
    """The DMP already holds a document with this uniqueId (XDSDuplicateUniqueIdInRegistry)."""


class Permanent(DmpError):
    """The DMP rejected the request; sending it again will not help."""


class NoDmp(Permanent):
    """The patient has no DMP (TD0.2 queryResponseCode NF)."""


class DmpClosed(Permanent):
    """The patient's DMP is closed (TD0.2 patient statusCode terminated / DMPClosed)."""


class InvalidSubmission(Permanent):
    """The gateway refused to send: the submission breaks a DMP rule."""


class Configuration(DmpError):
    """The gateway's certificates, TLS or VIHF set-up is wrong; an operator must fix it."""


__all__ = [
    "Configuration",
    "DmpClosed",
    "DmpError",
    "Duplicate",
    "InvalidSubmission",
    "NoDmp",
    "OutcomeUnknown",
    "Permanent",
    "RegistryErrorItem",
    "Transient",
]
