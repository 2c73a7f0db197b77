"""OperationOutcome, the error currency of the API (FHIR STU3 operationoutcome.html).

Every error leaves the API as an OperationOutcome with the status that fits; `FhirError` carries
both. Store and auth errors are mapped to it in one place, `from_exception`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from dmp_gateway.store import errors as store_errors


@dataclass(frozen=True, slots=True)
class Issue:
    """One OperationOutcome.issue."""

    #: FHIR IssueType code: invalid, required, value, structure, not-found, forbidden, login, conflict...
    code: str
    diagnostics: str
    #: FHIRPath of the element at fault (STU3 `expression`), e.g. "Patient.identifier[0].value".
    expression: str | None = None
    severity: str = "error"

    def as_dict(self) -> dict:
        out: dict = {"severity": self.severity, "code": self.code, "diagnostics": self.diagnostics}
        if self.expression:
            out["expression"] = [self.expression]
        return out


@dataclass
class FhirError(Exception):
    """An HTTP error answered with an OperationOutcome."""

    status: int
    issues: list[Issue] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return "; ".join(i.diagnostics for i in self.issues)

    def body(self) -> bytes:
        return outcome_json(self.issues)


def outcome_json(issues: list[Issue]) -> bytes:
    return orjson.dumps({"resourceType": "OperationOutcome", "issue": [i.as_dict() for i in issues]})


def error(status: int, code: str, diagnostics: str, expression: str | None = None, **headers: str) -> FhirError:
    return FhirError(status, [Issue(code, diagnostics, expression)], dict(headers))


def bad_request(diagnostics: str, expression: str | None = None) -> FhirError:
    return error(400, "invalid", diagnostics, expression)


def not_found(diagnostics: str) -> FhirError:
    return error(404, "not-found", diagnostics)


def unprocessable(issues: list[Issue]) -> FhirError:
    return FhirError(422, issues)


def from_exception(exc: Exception) -> FhirError | None:
    """Map a known lower-layer error to its FHIR answer; None for anything unexpected."""
    if isinstance(exc, FhirError):
        return exc
    if isinstance(exc, store_errors.ResourceNotFound):
        return not_found(str(exc))
    if isinstance(exc, store_errors.ResourceGone):
        return error(410, "deleted", str(exc))
    if isinstance(exc, store_errors.VersionConflict):
        return error(409, "conflict", str(exc))
    if isinstance(exc, store_errors.MultipleMatches):
        return error(412, "duplicate", str(exc))
    if isinstance(exc, store_errors.BlobTooLarge):
        return error(413, "too-costly", str(exc))
    try:
        from dmp_gateway.auth.errors import AuthError
    except ImportError:  # pragma: no cover - auth is always installed with the package
        return None
    if isinstance(exc, AuthError):
        headers = {"WWW-Authenticate": exc.www_authenticate} if exc.www_authenticate else {}
        return FhirError(exc.status, [Issue(exc.code, exc.message)], headers)
    return None
