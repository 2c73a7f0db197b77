"""PDF checks: the Binary must open as a PDF (pikepdf/qpdf), and its PDF/A claim is read from the XMP.

The ANS kit never looks inside the base64 body (kit README, "Known limits"), so these checks are the
gateway's own. The PDF/A level is the XMP ``pdfaid:part`` + ``pdfaid:conformance`` (ISO 19005), e.g.
``1B``; a claim is not a proof of conformance, which only a validator such as veraPDF can give.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass

import pikepdf
from lxml import etree

from dmp_gateway.cda.errors import InvalidCdaInputs, Problem
from dmp_gateway.cda.inputs import PdfSource

_HASH_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class PdfInfo:
    """What the gateway learnt about a PDF."""

    #: SHA-256 of the exact bytes, hex.
    sha256: str
    size: int
    pages: int
    #: PDF/A part and conformance claimed by the XMP metadata (``1B``, ``2U``...), None when not PDF/A.
    pdfa_level: str | None

    @property
    def is_pdfa1(self) -> bool:
        """True for a PDF/A-1a or PDF/A-1b claim, the only parts IHE XDS-SD names."""
        return self.pdfa_level is not None and self.pdfa_level.startswith("1")


def inspect_pdf(pdf: PdfSource, *, label: str = "the PDF") -> PdfInfo:
    """Open the PDF and read its PDF/A claim; raises `InvalidCdaInputs` when it is not a usable PDF."""
    digest, size = _sha256(pdf)
    try:
        with _open(pdf) as document:
            pages = len(document.pages)
            level = _pdfa_level(document)
    except pikepdf.PasswordError:
        raise InvalidCdaInputs([Problem("pdf-encrypted", f"{label} is password-protected; send it unencrypted")])
    except (pikepdf.PdfError, OSError) as exc:
        raise InvalidCdaInputs([Problem("pdf-unreadable", f"{label} is not a readable PDF ({_short(exc)})")])
    if pages == 0:
        raise InvalidCdaInputs([Problem("pdf-empty", f"{label} has no page")])
    return PdfInfo(sha256=digest, size=size, pages=pages, pdfa_level=level)


def _open(pdf: PdfSource) -> pikepdf.Pdf:
    if isinstance(pdf, (bytes, bytearray, memoryview)):
        return pikepdf.open(io.BytesIO(pdf))
    return pikepdf.open(os.fspath(pdf))


def _pdfa_level(document: pikepdf.Pdf) -> str | None:
    try:
        status = document.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False).pdfa_status
    except (pikepdf.PdfError, etree.XMLSyntaxError, ValueError):
        return None  # unreadable XMP: no trustworthy claim
    return status.upper() or None


def _sha256(pdf: PdfSource) -> tuple[str, int]:
    if isinstance(pdf, (bytes, bytearray, memoryview)):
        return hashlib.sha256(pdf).hexdigest(), len(pdf)
    digest, size = hashlib.sha256(), 0
    try:
        with open(os.fspath(pdf), "rb") as f:
            while chunk := f.read(_HASH_CHUNK):
                digest.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise InvalidCdaInputs([Problem("pdf-missing", f"the PDF file cannot be read ({exc.strerror})")])
    return digest.hexdigest(), size


def _short(exc: Exception) -> str:
    """First line of a qpdf message, without the in-memory file name qpdf puts in front."""
    line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return line.split(": ", 1)[-1][:200]
