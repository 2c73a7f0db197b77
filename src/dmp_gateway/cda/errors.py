"""Errors of the CDA builder and of the PDF checks.

    CdaError                  base class; never raised itself
      InvalidCdaInputs        inputs are missing or break a rule: `.problems` lists every one of them
      PdfaConversionError     Ghostscript is absent or could not produce a PDF/A-1b

`InvalidCdaInputs` is the operator's error: its text becomes the reason of the `entered-in-error`
Communication, so each problem is a sentence naming the resource and the rule, never a stack trace.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One missing or invalid input."""

    #: Short stable code for programs and tests, e.g. ``"rpps-missing"``.
    code: str
    #: Sentence for an operator, e.g. ``"Practitioner/12 has no RPPS identifier"``.
    text: str

    def __str__(self) -> str:
        return self.text


#: Problem codes about who the patient is (rather than the document): the delivery reports them as an
#: invalid patient identity, which the operator fixes on the Patient resource.
PATIENT_IDENTITY_CODES = frozenset({
    "ins-missing", "ins-invalid", "nir-sex-mismatch", "birth-date-invalid", "birth-date-after-document",
    "birth-place-invalid", "patient-id-missing", "patient-family-missing", "patient-family-invalid",
    "patient-given-missing", "patient-given-invalid", "patient-used-name-missing", "patient-used-name-invalid",
    "patient-gender-missing", "patient-birth-place-missing", "multiple-birth-invalid", "ipp-invalid"})


class CdaError(Exception):
    """The CDA document could not be built."""


class InvalidCdaInputs(CdaError):
    """The CDA cannot be built from these inputs."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems: tuple[Problem, ...] = tuple(problems)
        if not self.problems:
            raise ValueError("InvalidCdaInputs needs at least one problem")
        super().__init__(self.reason)

    @property
    def reason(self) -> str:
        """All problems in one line, for the Communication's reason and the logs' error field."""
        return "The CDA cannot be built: " + "; ".join(p.text for p in self.problems) + "."

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(p.code for p in self.problems)

    @property
    def only_patient_identity(self) -> bool:
        """True when every problem is in the patient's identity (`PATIENT_IDENTITY_CODES`): fix the Patient."""
        return all(p.code in PATIENT_IDENTITY_CODES for p in self.problems)


class PdfaConversionError(CdaError):
    """The PDF could not be converted to PDF/A-1b."""

    def __init__(self, message: str | None = None, *, detail: str | None = None):
        super().__init__(message or self.__doc__)
        #: Last lines of Ghostscript's output, for the operator (holds no patient data by itself).
        self.detail = detail


def raise_if_any(problems: Iterable[Problem]) -> None:
    """Raise one `InvalidCdaInputs` listing every problem, if there is any."""
    collected = tuple(problems)
    if collected:
        raise InvalidCdaInputs(collected)
