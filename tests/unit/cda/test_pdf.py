"""PDF parsing, PDF/A claim detection and the PDF/A policy (conversion faked here; real one in integration)."""

from __future__ import annotations

from datetime import date

import pytest

from dmp_gateway.cda.errors import InvalidCdaInputs, PdfaConversionError
from dmp_gateway.cda.examples import example_pdf
from dmp_gateway.cda.pdf import inspect_pdf
from dmp_gateway.cda.pdfa import PdfaAction, PdfaPolicy, prepare_pdf

WHEN = date(2025, 3, 1)


def test_a_plain_pdf_claims_no_pdfa_level():
    pdf = example_pdf(100)
    info = inspect_pdf(pdf)
    assert (info.pages, info.size, info.pdfa_level, info.is_pdfa1) == (1, len(pdf), None, False)
    assert len(info.sha256) == 64


@pytest.mark.parametrize("claim, level, is_1", [(("1", "B"), "1B", True), (("1", "A"), "1A", True),
                                                (("2", "U"), "2U", False), (("3", "b"), "3B", False)])
def test_the_xmp_pdfaid_claim_is_read(claim, level, is_1):
    info = inspect_pdf(example_pdf(pdfa=claim))
    assert (info.pdfa_level, info.is_pdfa1) == (level, is_1)


def test_a_path_gives_the_same_answer_as_bytes(tmp_path):
    pdf = example_pdf(10_000, pdfa=("1", "B"))
    (tmp_path / "a.pdf").write_bytes(pdf)
    assert inspect_pdf(tmp_path / "a.pdf") == inspect_pdf(pdf)


@pytest.mark.parametrize("data, code", [(b"", "pdf-unreadable"), (b"<html/>", "pdf-unreadable"),
                                        (b"%PDF-1.7\n garbage", "pdf-unreadable")])
def test_what_is_not_a_pdf_is_an_operator_error(data, code):
    with pytest.raises(InvalidCdaInputs) as caught:
        inspect_pdf(data, label="Binary/7")
    assert caught.value.codes == (code,)
    assert caught.value.problems[0].text.startswith("Binary/7 is not a readable PDF")


def test_a_missing_file_is_reported(tmp_path):
    with pytest.raises(InvalidCdaInputs) as caught:
        inspect_pdf(tmp_path / "gone.pdf")
    assert caught.value.codes == ("pdf-missing",)


def fake_converter(calls: list):
    def convert(pdf, *, timestamp):
        calls.append(timestamp)
        return example_pdf(pdfa=("1", "B"), seed=1)
    return convert


def test_convert_policy_converts_what_is_not_pdfa1_and_keeps_the_original():
    calls: list = []
    original = example_pdf(100, pdfa=("2", "B"))
    prep = prepare_pdf(original, PdfaPolicy.CONVERT, timestamp=WHEN, converter=fake_converter(calls))
    assert calls == [WHEN]
    assert (prep.action, prep.pdfa_level) == (PdfaAction.CONVERTED, "2B")
    assert prep.pdf_to_embed(original) == prep.converted != original
    record = prep.record()
    assert record["original_sha256"] == inspect_pdf(original).sha256
    assert record["converted_size"] == len(prep.converted) and record["action"] == "converted"


def test_pdfa1_is_kept_whatever_the_policy():
    original = example_pdf(pdfa=("1", "B"))
    for policy in PdfaPolicy:
        prep = prepare_pdf(original, policy, timestamp=WHEN, converter=fake_converter([]))
        assert prep.action is PdfaAction.KEPT_PDFA and prep.pdf_to_embed(original) is original


def test_accept_policy_sends_the_pdf_unchanged():
    calls: list = []
    prep = prepare_pdf(example_pdf(), PdfaPolicy.ACCEPT, timestamp=WHEN, converter=fake_converter(calls))
    assert prep.action is PdfaAction.ACCEPTED_AS_IS and prep.converted is None and calls == []


def test_reject_policy_refuses_what_is_not_pdfa1():
    with pytest.raises(InvalidCdaInputs) as caught:
        prepare_pdf(example_pdf(pdfa=("2", "U")), PdfaPolicy.REJECT, timestamp=WHEN, label="Binary/7")
    assert caught.value.codes == ("pdf-not-pdfa",)
    assert "Binary/7 claims PDF/A-2U" in caught.value.reason


def test_a_conversion_that_does_not_give_pdfa1_fails_loudly():
    with pytest.raises(PdfaConversionError):
        prepare_pdf(example_pdf(), PdfaPolicy.CONVERT, timestamp=WHEN, converter=lambda pdf, timestamp: example_pdf())
