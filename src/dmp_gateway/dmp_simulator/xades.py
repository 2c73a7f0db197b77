"""Judge the XAdES signature of a submission set (IHE DSG detached signature, XAdES 1.1.1, DMP profile).

Rules (dmp-interfaces.md §4.4, IHE ITI TF-3 §5.5 "Document Digital Signature"): the signature entry is a
`ds:Signature` whose SignedInfo references the `ds:Manifest` and the XAdES `SignedProperties`; the
SignatureValue verifies with the KeyInfo certificate, which chains to the trusted CA and is valid now; the
SigningCertificate digest names that certificate; the manifest has one Reference `urn:oid:<uniqueId>` per
document of the submission set whose digest matches the document (after its declared transforms, C14N with
comments for a CDA) — the submission-set reference carries the placeholder digest and is not checked.
`#id` references resolve by attribute value (the DMP's ids are not valid xs:ID), never by schema typing.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree
from signxml import SignatureConfiguration, XMLVerifier
from signxml.algorithms import CanonicalizationMethod, DigestAlgorithm, SignatureMethod
from signxml.exceptions import InvalidInput, SignXMLException

from dmp_gateway.dmp.c14n import canonical_digest
from dmp_gateway.dmp.namespaces import DS, MANIFEST_TYPE, SIGNED_PROPERTIES_TYPE, qname
from dmp_gateway.dmp_simulator.rejections import AUTHENTICATION_ERROR, INVALID_SIGNATURE, Rejected
from dmp_gateway.dmp_simulator.trust import TrustStore, UntrustedCertificate, load_der_or_base64, structure_id

XADES_NAMESPACES = ("http://uri.etsi.org/01903/v1.1.1#", "http://uri.etsi.org/01903/v1.3.2#")
_DIGESTS = {
    "http://www.w3.org/2000/09/xmldsig#sha1": hashlib.sha1,
    "http://www.w3.org/2001/04/xmlenc#sha256": hashlib.sha256,
    "http://www.w3.org/2001/04/xmldsig-more#sha384": hashlib.sha384,
    "http://www.w3.org/2001/04/xmlenc#sha512": hashlib.sha512,
}
_C14N = {
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315": dict(exclusive=False, with_comments=False),
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments": dict(exclusive=False, with_comments=True),
    "http://www.w3.org/2001/10/xml-exc-c14n#": dict(exclusive=True, with_comments=False),
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments": dict(exclusive=True, with_comments=True),
}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


def _fail(text: str, location: str | None = None) -> Rejected:
    return Rejected(INVALID_SIGNATURE, f"XAdES signature: {text}", location)


def check_submission_signature(
    signature_bytes: bytes,
    *,
    documents: dict[str, "DocumentBytes"],
    submission_set_uid: str,
    trust: TrustStore,
    now: datetime,
    structure: str,
    location: str | None = None,
) -> x509.Certificate:
    """Verify the signature document against the submission's documents (keyed by uniqueId)."""
    try:
        root = etree.fromstring(signature_bytes, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise _fail(f"the signature document is not XML: {exc}", location) from exc
    if root.tag != qname(DS, "Signature"):
        raise _fail(f"the signature document's root is {root.tag}, not ds:Signature", location)
    cert_text = root.findtext(f"{qname(DS, 'KeyInfo')}/{qname(DS, 'X509Data')}/{qname(DS, 'X509Certificate')}")
    try:
        certificate = load_der_or_base64((cert_text or "").strip())
    except ValueError as exc:
        raise _fail(f"KeyInfo certificate unreadable: {exc}", location) from exc
    try:
        trust.verify(certificate, now)
    except UntrustedCertificate as exc:
        raise Rejected(AUTHENTICATION_ERROR, f"Erreur d'authentification de la personne morale: XAdES {exc}", location) from exc
    results = _verify_core(root, certificate, now, location)
    manifest = _signed_target(root, results, MANIFEST_TYPE, location)
    properties = _signed_target(root, results, SIGNED_PROPERTIES_TYPE, location)
    _check_signing_certificate(properties, certificate, location)
    _check_manifest(manifest, documents, submission_set_uid, location)
    if structure_id(certificate) != structure:
        raise Rejected(
            AUTHENTICATION_ERROR,
            f"Erreur d'authentification de la personne morale: the XAdES certificate's structure "
            f"(OU={structure_id(certificate)!r}) is not the VIHF's {structure!r}",
            location,
        )
    return certificate


class DocumentBytes:
    """A submitted document: its exact bytes, and its parsed tree when it is XML (parsed once per request)."""

    __slots__ = ("data", "tree")

    def __init__(self, data: bytes, tree: etree._ElementTree | None = None) -> None:
        self.data = data
        self.tree = tree


def _verify_core(root: etree._Element, certificate: x509.Certificate, now: datetime, location: str | None) -> list:
    config = SignatureConfiguration(
        require_x509=True,
        location="./",
        expect_references=True,
        signature_methods=frozenset({SignatureMethod.RSA_SHA1, SignatureMethod.RSA_SHA256, SignatureMethod.RSA_SHA512}),
        digest_algorithms=frozenset({DigestAlgorithm.SHA1, DigestAlgorithm.SHA256, DigestAlgorithm.SHA512}),
        verification_time=now,
        default_reference_c14n_method=CanonicalizationMethod.CANONICAL_XML_1_0_WITH_COMMENTS,
    )
    try:
        results = XMLVerifier().verify(root, x509_cert=certificate, expect_config=config, validate_schema=False)
    except (SignXMLException, InvalidInput, ValueError, etree.LxmlError) as exc:
        raise _fail(f"signature does not verify: {exc}", location) from exc
    return results if isinstance(results, list) else [results]


def _signed_target(root: etree._Element, results: list, type_uri: str, location: str | None) -> etree._Element:
    """The element a SignedInfo Reference of `type_uri` covers, taken from the verified (signed) bytes."""
    references = root.findall(f"{qname(DS, 'SignedInfo')}/{qname(DS, 'Reference')}")
    for reference, result in zip(references, results):
        if reference.get("Type") == type_uri and result.signed_xml is not None:
            return result.signed_xml
    what = "ds:Manifest" if type_uri == MANIFEST_TYPE else "xades:SignedProperties"
    raise _fail(f"SignedInfo has no Reference of Type {type_uri} (the {what} must be signed)", location)


def _check_signing_certificate(properties: etree._Element, certificate: x509.Certificate, location: str | None) -> None:
    for ns in XADES_NAMESPACES:
        digest_el = properties.find(f".//{{{ns}}}SigningCertificate/{{{ns}}}Cert/{{{ns}}}CertDigest")
        if digest_el is None:
            continue
        method = digest_el.find(qname(DS, "DigestMethod"))
        value = digest_el.findtext(qname(DS, "DigestValue")) or digest_el.findtext(f"{{{ns}}}DigestValue")
        algorithm = _DIGESTS.get(method.get("Algorithm", "") if method is not None else "")
        if algorithm is None or value is None:
            raise _fail("SigningCertificate/Cert/CertDigest needs a known DigestMethod and a DigestValue", location)
        if base64.b64decode(value) != algorithm(certificate.public_bytes(Encoding.DER)).digest():
            raise _fail("SigningCertificate CertDigest does not match the KeyInfo certificate", location)
        if properties.find(f".//{{{ns}}}SigningTime") is None:
            raise _fail("SignedSignatureProperties/SigningTime is missing", location)
        return
    raise _fail("SignedProperties has no SigningCertificate", location)


def _check_manifest(
    manifest: etree._Element, documents: dict[str, DocumentBytes], submission_set_uid: str, location: str | None
) -> None:
    covered: set[str] = set()
    for reference in manifest.findall(qname(DS, "Reference")):
        uri = reference.get("URI", "")
        if not uri.startswith("urn:oid:"):
            raise _fail(f"manifest Reference URI {uri!r} is not urn:oid:<uniqueId>", location)
        uid = uri[8:]
        if uid == submission_set_uid:
            continue
        document = documents.get(uid)
        if document is None:
            raise _fail(f"manifest references {uri}, which is not a document of this submission set", location)
        if _digest(reference, document, location) != base64.b64decode(reference.findtext(qname(DS, "DigestValue")) or ""):
            raise _fail(f"manifest digest of {uri} does not match the submitted document", uid)
        covered.add(uid)
    missing = sorted(set(documents) - covered)
    if missing:
        raise _fail(f"the manifest does not cover document(s) {', '.join(missing)}", missing[0])


def _digest(reference: etree._Element, document: DocumentBytes, location: str | None) -> bytes:
    method = reference.find(qname(DS, "DigestMethod"))
    algorithm = _DIGESTS.get(method.get("Algorithm", "") if method is not None else "")
    if algorithm is None:
        raise _fail("manifest Reference with an unknown DigestMethod", location)
    options = None
    for transform in reference.findall(f"{qname(DS, 'Transforms')}/{qname(DS, 'Transform')}"):
        options = _C14N.get(transform.get("Algorithm", ""))
        if options is None:
            raise _fail(f"unsupported manifest Transform {transform.get('Algorithm')}", location)
        if document.tree is None:
            raise _fail("a C14N transform is declared on a document that is not XML", location)
    if options is None:
        return algorithm(document.data).digest()
    # The tree was parsed for the checks of this request only, and the manifest check is its last use.
    return canonical_digest(document.tree, algorithm, restore=False, **options)
