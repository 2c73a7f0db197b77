"""PDF/A policy (``DMPGW_PDFA_POLICY``) and the Ghostscript conversion to PDF/A-1b.

IHE XDS-SD references PDF/A-1b and the DMP's formatCode reads "Pdf/A-1" (cda-structuration-minimale.md
§5); whether the DMP refuses anything else is not documented, hence a policy:

| policy  | PDF/A-1 claimed | anything else                                              |
|---------|-----------------|------------------------------------------------------------|
| convert | sent unchanged  | converted to PDF/A-1b with Ghostscript; the original kept  |
| accept  | sent unchanged  | sent unchanged                                             |
| reject  | sent unchanged  | refused (`InvalidCdaInputs`, code ``pdf-not-pdfa``)        |

The outcome (`PdfPreparation`) is recorded with the delivery. Conversion is reproducible: the same PDF
and timestamp give the same bytes (SOURCE_DATE_EPOCH, fixed file names), so a retry rebuilds an
identical CDA.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path

from dmp_gateway.cda.errors import InvalidCdaInputs, PdfaConversionError, Problem
from dmp_gateway.cda.inputs import PdfSource, Timestamp
from dmp_gateway.cda.pdf import PdfInfo, inspect_pdf

#: Where Debian (libgs-common) and Ghostscript's own install put the sRGB profile the OutputIntent needs.
ICC_CANDIDATES = ("/usr/share/color/icc/ghostscript/srgb.icc", "/usr/share/ghostscript/iccprofiles/srgb.icc",
                  "/usr/local/share/ghostscript/iccprofiles/srgb.icc", "/opt/homebrew/share/ghostscript/iccprofiles/srgb.icc")
DEFAULT_TIMEOUT = 300.0


class PdfaPolicy(str, Enum):
    CONVERT = "convert"
    ACCEPT = "accept"
    REJECT = "reject"


class PdfaAction(str, Enum):
    """What the gateway did with the client's PDF."""

    KEPT_PDFA = "kept-pdfa"  # it claims PDF/A-1: embedded unchanged
    ACCEPTED_AS_IS = "accepted-as-is"  # policy accept: embedded unchanged although not PDF/A-1
    CONVERTED = "converted"  # Ghostscript's PDF/A-1b embedded instead; the original is kept by the caller


@dataclass(frozen=True)
class PdfPreparation:
    """The PDF/A decision, recorded with the delivery."""

    policy: PdfaPolicy
    action: PdfaAction
    original_sha256: str
    original_size: int
    #: PDF/A level the original claims (``1B``, ``2U``...), None when it claims none.
    pdfa_level: str | None
    #: The PDF/A-1b bytes when converted.
    converted: bytes | None = None

    def pdf_to_embed(self, original: PdfSource) -> PdfSource:
        """The PDF the CDA must wrap: the converted one when there is one, else the original."""
        return self.converted if self.converted is not None else original

    def record(self) -> dict[str, object]:
        """A JSON-ready summary for the delivery timeline (no PDF bytes)."""
        converted = self.converted
        return {"policy": self.policy.value, "action": self.action.value, "original_sha256": self.original_sha256,
                "original_size": self.original_size, "pdfa_level": self.pdfa_level,
                "converted_sha256": hashlib.sha256(converted).hexdigest() if converted is not None else None,
                "converted_size": len(converted) if converted is not None else None}


Converter = Callable[..., bytes]


def decide(info: PdfInfo, policy: PdfaPolicy, *, label: str = "the PDF") -> PdfaAction:
    """The action the policy takes for this PDF; raises `InvalidCdaInputs` when the policy refuses it."""
    if info.is_pdfa1:
        return PdfaAction.KEPT_PDFA
    if policy is PdfaPolicy.ACCEPT:
        return PdfaAction.ACCEPTED_AS_IS
    if policy is PdfaPolicy.REJECT:
        claim = f"claims PDF/A-{info.pdfa_level}" if info.pdfa_level else "is not PDF/A"
        raise InvalidCdaInputs([Problem("pdf-not-pdfa", f"{label} {claim}; the gateway accepts only PDF/A-1 "
                                                         f"documents (PDF/A policy 'reject')")])
    return PdfaAction.CONVERTED


def prepare_pdf(pdf: PdfSource, policy: PdfaPolicy, *, timestamp: Timestamp, info: PdfInfo | None = None,
                converter: Converter | None = None, label: str = "the PDF") -> PdfPreparation:
    """Inspect the PDF, apply the policy, convert when it says so; `timestamp` dates the PDF/A output."""
    info = info or inspect_pdf(pdf, label=label)
    action = decide(info, policy, label=label)
    converted = None
    if action is PdfaAction.CONVERTED:
        converted = (converter or convert_to_pdfa1b)(pdf, timestamp=timestamp)
        result = inspect_pdf(converted, label="the converted PDF")
        if not result.is_pdfa1:
            raise PdfaConversionError(f"Ghostscript's output claims PDF/A-{result.pdfa_level}, not PDF/A-1")
    return PdfPreparation(policy=policy, action=action, original_sha256=info.sha256, original_size=info.size,
                          pdfa_level=info.pdfa_level, converted=converted)


def convert_to_pdfa1b(pdf: PdfSource, *, timestamp: Timestamp, gs: str | None = None,
                      timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """PDF/A-1b of `pdf` made by Ghostscript's pdfwrite, dated `timestamp`; raises `PdfaConversionError`."""
    executable = gs or shutil.which("gs")
    if executable is None:
        raise PdfaConversionError("Ghostscript (gs) is not installed: install the Debian package 'ghostscript' "
                                  "or set DMPGW_PDFA_POLICY=accept")
    icc = _srgb_profile()
    with tempfile.TemporaryDirectory(prefix="dmpgw-pdfa-") as work:
        source = _materialize(pdf, Path(work))
        Path(work, "pdfa_def.ps").write_text(_pdfa_definition(icc), encoding="ascii")
        command = [executable, "-q", "-dPDFA=1", "-dBATCH", "-dNOPAUSE", "-dSAFER", f"--permit-file-read={icc}",
                   "-sColorConversionStrategy=RGB", "-sDEVICE=pdfwrite", "-dPDFACompatibilityPolicy=1",
                   "-sOutputFile=out.pdf", "pdfa_def.ps", source]
        env = {**os.environ, "SOURCE_DATE_EPOCH": str(_epoch(timestamp))}
        try:
            run = subprocess.run(command, cwd=work, env=env, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise PdfaConversionError(f"Ghostscript did not finish the PDF/A conversion within {timeout:.0f} s")
        except OSError as exc:
            raise PdfaConversionError(f"Ghostscript could not be started ({executable}: {exc.strerror})")
        output = Path(work, "out.pdf")
        if run.returncode != 0 or not output.exists() or output.stat().st_size == 0:
            detail = (run.stdout + run.stderr).decode("utf-8", "replace").strip()[-500:]
            raise PdfaConversionError(f"Ghostscript failed to convert the PDF to PDF/A-1b (exit {run.returncode})",
                                      detail=detail)
        return output.read_bytes()


def _materialize(pdf: PdfSource, work: Path) -> str:
    """Path Ghostscript reads: the file itself, or the bytes written under a fixed name (reproducible IDs)."""
    if isinstance(pdf, (bytes, bytearray, memoryview)):
        Path(work, "in.pdf").write_bytes(pdf)
        return "in.pdf"
    return os.fspath(Path(os.fspath(pdf)).resolve())


def _srgb_profile() -> str:
    for candidate in ICC_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    raise PdfaConversionError("no sRGB ICC profile found for the PDF/A OutputIntent (looked in "
                              + ", ".join(ICC_CANDIDATES) + ")")


def _pdfa_definition(icc: str) -> str:
    """PostScript that declares the sRGB OutputIntent PDF/A-1 requires (Ghostscript VectorDevices §PDF/A)."""
    literal = icc.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return "\n".join([
        "%!",
        f"/ICCProfile ({literal}) def",
        "[/_objdef {icc_PDFA} /type /stream /OBJ pdfmark",
        "[{icc_PDFA} << /N 3 >> /PUT pdfmark",
        "[{icc_PDFA} ICCProfile (r) file /PUT pdfmark",
        "[/_objdef {OutputIntent_PDFA} /type /dict /OBJ pdfmark",
        "[{OutputIntent_PDFA} << /Type /OutputIntent /S /GTS_PDFA1 /DestOutputProfile {icc_PDFA}",
        "  /OutputConditionIdentifier (sRGB) /Info (sRGB IEC61966-2.1) >> /PUT pdfmark",
        "[{Catalog} << /OutputIntents [ {OutputIntent_PDFA} ] >> /PUT pdfmark",
        "",
    ])


def _epoch(timestamp: Timestamp) -> int:
    if isinstance(timestamp, datetime):
        moment = timestamp if timestamp.tzinfo else timestamp.replace(tzinfo=timezone.utc)
    else:
        moment = datetime(timestamp.year, timestamp.month, timestamp.day, tzinfo=timezone.utc)
    return max(0, int(moment.timestamp()))
