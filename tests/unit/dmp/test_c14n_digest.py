"""`canonical_digest` hashes long plain texts beside the C14N of the rest: the digest must be that of
the canonical whole, whatever the document and the C14N variant, and the tree must come back unchanged
(dmp/c14n.py; used by the gateway's XAdES signer and the simulator's verifier)."""

from __future__ import annotations

import base64
import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from dmp_gateway.dmp import c14n, xades
from dmp_gateway.dmp.soap import PARSER


def reference_digest(document: bytes, algorithm: str, *, exclusive: bool = False, with_comments: bool = True) -> str:
    canonical = etree.tostring(etree.fromstring(document, parser=PARSER), method="c14n", exclusive=exclusive,
                               with_comments=with_comments)
    return base64.b64encode(hashlib.new(algorithm, canonical).digest()).decode()


# Texts long enough to be spliced, with and without what C14N escapes, and non-ASCII.
_ALPHABET = st.sampled_from(list("ABCxyz019+/=\n\t é€") + ["&", "<", ">", "\r", '"', "'"])
_LONG = st.builds(lambda core, repeat: core * repeat, st.text(_ALPHABET, min_size=1, max_size=40),
                  st.integers(1, 300)).filter(lambda t: len(t) >= 100)
_TEXT = st.one_of(st.none(), st.text(_ALPHABET, max_size=30), _LONG)


@st.composite
def documents(draw) -> bytes:  # noqa: ANN001
    root = etree.Element("{urn:hl7-org:v3}ClinicalDocument", nsmap={None: "urn:hl7-org:v3", "x": "urn:x"},
                         attrib={"b": "2", "a": "1"})
    parents = [root]
    for n in range(draw(st.integers(0, 8))):
        parent = draw(st.sampled_from(parents))
        child = etree.SubElement(parent, draw(st.sampled_from(["{urn:hl7-org:v3}text", "{urn:x}part", "plain"])))
        child.text = draw(_TEXT)
        child.tail = draw(_TEXT)
        if draw(st.booleans()):
            child.set("mediaType", "application/pdf")
        if draw(st.booleans()):
            child.append(etree.Comment(f" comment {n} "))
        parents.append(child)
    root.text = draw(_TEXT)
    return etree.tostring(root, xml_declaration=draw(st.booleans()), encoding="UTF-8")


@settings(max_examples=300, deadline=None)
@given(documents(), st.sampled_from(["sha1", "sha256"]), st.integers(1, 200), st.booleans(), st.booleans())
def test_spliced_digest_is_the_digest_of_the_canonical_whole(document, algorithm, threshold, exclusive, comments):
    original = c14n.SPLICED_TEXT
    c14n.SPLICED_TEXT = threshold  # small documents exercise the splice too
    try:
        tree = etree.ElementTree(etree.fromstring(document, parser=PARSER))
        before = etree.tostring(tree)
        got = c14n.canonical_digest(tree, c14n.named(algorithm), exclusive=exclusive, with_comments=comments)
        assert base64.b64encode(got).decode() == reference_digest(document, algorithm, exclusive=exclusive,
                                                                  with_comments=comments)
        assert etree.tostring(tree) == before  # the texts are back in place
        if not exclusive and comments:
            assert xades.document_digest(document, algorithm) == reference_digest(document, algorithm)
    finally:
        c14n.SPLICED_TEXT = original


def test_a_cda_with_a_base64_pdf_is_spliced_and_matches():
    pdf = base64.b64encode(bytes(range(256)) * 800, ).decode()
    wrapped = "\n".join(pdf[i:i + 76] for i in range(0, len(pdf), 76))
    cda = (b'<?xml version="1.0" encoding="UTF-8"?>\n<ClinicalDocument xmlns="urn:hl7-org:v3"><component>'
           b'<nonXMLBody><text mediaType="application/pdf" representation="B64">' + wrapped.encode()
           + b"</text></nonXMLBody></component><!-- end --></ClinicalDocument>")
    assert len(wrapped) > c14n.SPLICED_TEXT  # the real threshold splices a PDF's base64
    assert xades.document_digest(cda, "sha256") == reference_digest(cda, "sha256")
