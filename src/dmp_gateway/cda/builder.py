"""Build a CI-SIS CDA R2 "structuration minimale" document wrapping a PDF (CDA level 1, XDS-SD).

Public entry points: `build_cda` (bytes), `write_cda` (to a binary file object, streaming the PDF) and
`build_header` (the tree without the PDF, for inspection). All check the inputs first and raise one
`InvalidCdaInputs` listing every problem. The output depends only on the inputs: the same inputs give
the same bytes, so a retried delivery sends an identical document (same XDS hash).
"""

from __future__ import annotations

import io
from typing import BinaryIO

from dmp_gateway.cda import body, context, participants
from dmp_gateway.cda.checks import check_inputs
from dmp_gateway.cda.elements import Element
from dmp_gateway.cda.errors import CdaError, raise_if_any
from dmp_gateway.cda.header import clinical_document
from dmp_gateway.cda.inputs import CdaInputs
from dmp_gateway.cda.record_target import record_target


def build_header(inputs: CdaInputs, *, check: bool = True) -> tuple[Element, Element]:
    """The ClinicalDocument tree and its still-empty nonXMLBody/text element, in CDA order."""
    if check:
        raise_if_any(check_inputs(inputs))
    doc = inputs.document
    root = clinical_document(doc)
    record_target(root, inputs.patient)
    participants.author(root, inputs)
    participants.custodian(root, inputs.custodian)
    participants.legal_authenticator(root, inputs.legal_authenticator, doc.effective_time)
    context.documentation_of(root, doc, inputs.performer, inputs.author_organization)
    if doc.replaced_unique_id is not None:
        context.related_document(root, doc.replaced_unique_id)
    context.component_of(root, doc, inputs.performer, inputs.author_organization)
    return root, body.non_xml_body(root)


def write_cda(inputs: CdaInputs, out: BinaryIO) -> int:
    """Write the CDA (UTF-8, no BOM) to `out`, streaming the PDF as base64; returns the bytes written.

    Raises `InvalidCdaInputs` before writing anything when an input is missing or invalid.
    """
    head, tail = body.serialize_around_body(*build_header(inputs))
    return body.write_parts(head, inputs.pdf, tail, out)


def build_cda(inputs: CdaInputs) -> bytes:
    """The CDA document as bytes; raises `InvalidCdaInputs` listing every problem of `inputs`.

    Memory: the output is allocated once at its exact size and handed over without a copy, so a build
    holds the PDF plus one base64 copy of it (about 2.4x the PDF size in all).
    """
    return build_cda_with_layout(inputs)[0]


def build_cda_with_layout(inputs: CdaInputs) -> tuple[bytes, int, int]:
    """`build_cda`, plus the lengths of what precedes and what follows the PDF's base64 text.

    The CDA is exactly ``cda[:head] + base64(inputs.pdf) + cda[len(cda) - tail:]`` (no line breaks in
    the base64), so a store that already keeps the PDF can keep the CDA as its two ends.
    """
    head, tail = body.serialize_around_body(*build_header(inputs))
    size = len(head) + body.base64_length(inputs.pdf) + len(tail)
    buffer = io.BytesIO()
    # Writing the last byte first makes BytesIO allocate the exact size in one go (no 12.5% growth steps
    # and no reallocation copies); the writes below then fill it in place.
    buffer.seek(size - 1)
    buffer.write(b"\0")
    buffer.seek(0)
    written = body.write_parts(head, inputs.pdf, tail, buffer)
    if written != size:  # pragma: no cover - the PDF file changed while it was read
        raise CdaError("the PDF changed size while the CDA was being written")
    # getvalue() returns BytesIO's own buffer, without a copy, when its size is exact.
    return buffer.getvalue(), len(head), len(tail)
