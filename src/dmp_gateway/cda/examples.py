"""Example inputs and PDFs for demos, tests and benchmarks (no real patient: ANS test identities).

The patient is the ANS kit's test identity PAT-TROIS Dominique (INS 279035121518989, test OID, born
1979-03-28 in COG 51215; ins-nir.md §5); the professional and the structure are the kit example's.
"""

from __future__ import annotations

import io
import random
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pikepdf

from dmp_gateway.cda import valuesets
from dmp_gateway.cda.inputs import (CdaInputs, DocumentMetadata, Gender, HealthProfessional, InstanceId,
                                    Organization, PatientIdentity, PdfSource)
from dmp_gateway.ins import OID_NIR_TEST, Ins

PARIS_WINTER = timezone(timedelta(hours=1))


def example_patient(**changes: object) -> PatientIdentity:
    patient = PatientIdentity(
        ins=Ins("279035121518989", OID_NIR_TEST),
        birth_family_name="PAT-TROIS",
        birth_given_names=("DOMINIQUE", "MARIE-LOUISE"),
        birth_date=date(1979, 3, 28),
        gender=Gender.FEMALE,
        birth_place_code="51215",
        local_id=InstanceId("1.2.250.1.999.1.1.7898.2", "0456789999"),
        multiple_birth_order=1,
        label="Patient/example",
    )
    return replace(patient, **changes)  # type: ignore[arg-type]


def example_professional(**changes: object) -> HealthProfessional:
    person = HealthProfessional(
        national_id="810002422979", family_name="CHARLES", given_name="Pascal",
        specialty=valuesets.specialties().get("G15_10/SM26"), label="Practitioner/example")
    return replace(person, **changes)  # type: ignore[arg-type]


def example_organization(**changes: object) -> Organization:
    return replace(Organization("1120459876", "Cabinet test", label="Organization/example"), **changes)  # type: ignore[arg-type]


def example_document(**changes: object) -> DocumentMetadata:
    created = datetime(2025, 3, 1, 10, 15, tzinfo=PARIS_WINTER)
    doc = DocumentMetadata(
        unique_id="1.2.250.1.999.1.1.8121.4.1",
        set_id="1.2.250.1.999.1.1.8121.5.1",
        type_code=valuesets.type_codes().concepts["11488-4"],
        title="Compte rendu de consultation",
        effective_time=created,
        service_start=created - timedelta(minutes=15),
        facility_type=valuesets.facility_types().concepts["SA07"],
        practice_setting=valuesets.practice_settings().concepts["AMBULATOIRE"],
        label="DocumentReference/example",
    )
    return replace(doc, **changes)  # type: ignore[arg-type]


def example_inputs(pdf: PdfSource | None = None, **changes: object) -> CdaInputs:
    """Complete, valid inputs; keyword arguments replace whole parts (document=..., patient=...)."""
    author = example_professional()
    inputs = CdaInputs(
        document=example_document(), patient=example_patient(), author=author,
        author_organization=example_organization(), custodian=example_organization(),
        legal_authenticator=author, pdf=pdf if pdf is not None else example_pdf())
    return replace(inputs, **changes)  # type: ignore[arg-type]


def example_pdf(size: int = 0, *, pdfa: tuple[str, str] | None = None, seed: int = 0) -> bytes:
    """A one-page PDF with text, padded with `size` random bytes; XMP claims PDF/A `(part, conformance)`."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
                                                BaseFont=pikepdf.Name.Helvetica))
    content = pdf.make_stream(b"BT /F1 18 Tf 72 760 Td (Compte rendu de consultation - exemple) Tj ET")
    page = pikepdf.Dictionary(Type=pikepdf.Name.Page, MediaBox=pikepdf.Array([0, 0, 595, 842]), Contents=content,
                              Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)))
    pdf.pages.append(pikepdf.Page(page))
    if size > 0:
        # Random bytes do not compress, so the file really is about `size` bytes larger.
        pdf.Root.DMPGWPadding = pdf.make_stream(random.Random(seed).randbytes(size))
    if pdfa is not None:
        with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
            meta["pdfaid:part"] = pdfa[0]
            meta["pdfaid:conformance"] = pdfa[1]
    return _save(pdf)


def _save(pdf: pikepdf.Pdf) -> bytes:
    buffer = io.BytesIO()
    pdf.save(buffer, deterministic_id=True, compress_streams=False)
    return buffer.getvalue()
