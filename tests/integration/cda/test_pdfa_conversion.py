"""Real Ghostscript conversion to PDF/A-1b (Debian package ghostscript; skipped when gs is absent)."""

from __future__ import annotations

import base64

import shutil
from datetime import datetime, timedelta, timezone

import pikepdf
import pytest

from dmp_gateway.cda.errors import PdfaConversionError
from dmp_gateway.cda.examples import example_pdf
from dmp_gateway.cda.pdf import inspect_pdf
from dmp_gateway.cda.pdfa import PdfaAction, convert_to_pdfa1b
from dmp_gateway.config import Settings
from dmp_gateway.fhir.cda_mapping import build_prepared_cda

pytestmark = pytest.mark.skipif(shutil.which("gs") is None, reason="Ghostscript (gs) is not installed")
WHEN = datetime(2025, 3, 1, 10, 15, tzinfo=timezone(timedelta(hours=1)))


def test_a_plain_pdf_becomes_pdfa1b_with_an_output_intent():
    converted = convert_to_pdfa1b(example_pdf(5000), timestamp=WHEN)
    assert inspect_pdf(converted).pdfa_level == "1B"
    with pikepdf.open(__import__("io").BytesIO(converted)) as pdf:
        intent = pdf.Root.OutputIntents[0]
        assert intent.S == "/GTS_PDFA1" and "/DestOutputProfile" in intent
        assert str(pdf.docinfo.CreationDate).startswith("D:20250301")  # dated by the request, not the clock
        font = next(iter(pdf.pages[0].Resources.Font.values()))
        assert "/FontFile3" in font.FontDescriptor or "/FontFile2" in font.FontDescriptor  # fonts embedded


def test_conversion_is_reproducible_so_retries_rebuild_the_same_cda(tmp_path):
    pdf = example_pdf(5000)
    (tmp_path / "x.pdf").write_bytes(pdf)
    first = convert_to_pdfa1b(pdf, timestamp=WHEN)
    assert convert_to_pdfa1b(tmp_path / "x.pdf", timestamp=WHEN) == first
    assert convert_to_pdfa1b(pdf, timestamp=WHEN + timedelta(days=1)) != first


def test_ghostscript_failures_are_reported_not_raised_raw(tmp_path):
    failing = tmp_path / "gs"
    failing.write_text("#!/bin/sh\necho 'Error: /undefined in --file--' >&2\nexit 1\n")
    failing.chmod(0o755)
    with pytest.raises(PdfaConversionError) as caught:
        convert_to_pdfa1b(example_pdf(), timestamp=WHEN, gs=str(failing))
    assert "exit 1" in str(caught.value) and "/undefined" in caught.value.detail
    with pytest.raises(PdfaConversionError, match="could not be started"):
        convert_to_pdfa1b(example_pdf(), timestamp=WHEN, gs=str(tmp_path / "no-such-gs"))


def test_the_seed_flow_with_a_plain_pdf_embeds_the_conversion(fx, reader, kit, tmp_path):
    plain = example_pdf(3000)
    resources = fx.request_resources(pdf=plain)
    cda, preparation, head, tail = build_prepared_cda(resources, Settings(pdfa_policy="convert"))
    assert preparation.action is PdfaAction.CONVERTED and preparation.pdfa_level is None
    # the layout a store relies on: the two ends around the base64 of the PDF actually embedded
    assert cda[:head] + base64.b64encode(preparation.converted) + cda[len(cda) - tail:] == cda
    embedded = reader.read_header(cda)["pdf"]
    assert embedded == preparation.converted and inspect_pdf(embedded).pdfa_level == "1B"
    assert preparation.original_sha256 == inspect_pdf(plain).sha256
    assert build_prepared_cda(resources, Settings(pdfa_policy="convert"))[0] == cda  # a retry: same bytes
    (tmp_path / "converted.xml").write_bytes(cda)
    assert kit.validate_file(tmp_path / "converted.xml").valid
