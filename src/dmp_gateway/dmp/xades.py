"""XAdES signature of a DMP submission set (IHE DSG style), and its verifier.

Built exactly as dmp-interfaces.md §4.4 describes (DRIMBOX XadesSign.java; TLSI-KIT):
a detached `ds:Signature` whose `ds:Manifest Id="IHEManifest"` references the submission set
(`urn:oid:<uniqueId>`, placeholder digest `AA==`) and each document (`urn:oid:<uniqueId>`, digest of
its C14N-with-comments), a `purposeOfSignature` SignatureProperty, XAdES 1.1.1 SignedProperties,
and a SignedInfo (C14N with comments) referencing `#IHEManifest` and `#S0-SignedProperties`.
`verify_submission_signature` is shared with the simulator: it checks the signature with signxml
against a CA, then each manifest digest against the documents actually received.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree
from signxml import CanonicalizationMethod, DigestAlgorithm, SignatureMethod, XMLVerifier
from signxml.exceptions import SignXMLException
from signxml.verifier import SignatureConfiguration

from dmp_gateway.dmp.c14n import canonical_digest, named
from dmp_gateway.dmp.certs import SigningIdentity
from dmp_gateway.dmp.namespaces import (
    C14N_WITH_COMMENTS, DS, MANIFEST_TYPE, PURPOSE_OF_SIGNATURE, SIGNED_PROPERTIES_TYPE, XADES, qname,
)
from dmp_gateway.dmp.soap import PARSER
from dmp_gateway.dmp.vihf import signing_certificate

Algorithm = Literal["rsa-sha1", "rsa-sha256"]
MANIFEST_ID = "IHEManifest"
SIGNED_PROPERTIES_ID = "S0-SignedProperties"
#: Placeholder digest of the submission-set reference: base64 of one 0x00 byte (§4.4 step 1).
PLACEHOLDER_DIGEST = "AA=="

_METHODS = {
    "rsa-sha1": ("http://www.w3.org/2000/09/xmldsig#rsa-sha1", "http://www.w3.org/2000/09/xmldsig#sha1", hashes.SHA1),
    "rsa-sha256": ("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", "http://www.w3.org/2001/04/xmlenc#sha256", hashes.SHA256),
}
_DIGEST_URIS = {
    "http://www.w3.org/2000/09/xmldsig#sha1": "sha1",
    "http://www.w3.org/2001/04/xmlenc#sha256": "sha256",
}


class XadesError(ValueError):
    """The submission-set signature is missing, malformed, untrusted or does not match the documents."""


class _DsgVerifier(XMLVerifier):
    """signxml's verifier without its XML-DSig schema check.

    The IHE DSG / ANS `purposeOfSignature` SignatureProperty holds bare text (dmp-interfaces.md §4.4),
    which xmldsig-core-schema.xsd rejects (it wants an element child). Everything else is checked.
    """

    def validate_schema(self, signature: etree._Element) -> None:  # noqa: D102 - deliberate override
        return None


def document_digest(document: bytes, algorithm: str = "sha1") -> str:
    """base64 digest of the document's C14N 1.0 *with comments* (whole document, as parsed)."""
    try:
        tree = etree.ElementTree(etree.fromstring(document, parser=PARSER))
    except etree.XMLSyntaxError as exc:
        raise XadesError(f"a signed document is not XML: {exc}") from exc
    return base64.b64encode(canonical_digest(tree, named(algorithm), restore=False)).decode("ascii")


def _c14n_digest(element: etree._Element, algorithm: str) -> str:
    canonical = etree.tostring(element, method="c14n", exclusive=False, with_comments=True)
    return base64.b64encode(hashlib.new(algorithm, canonical).digest()).decode("ascii")


def _ds(parent: etree._Element, local: str, **attributes: str) -> etree._Element:
    return etree.SubElement(parent, qname(DS, local), **attributes)


def _reference(parent: etree._Element, uri: str, digest_uri: str, digest: str, *,
               type_uri: str | None = None, transform: str | None = None) -> etree._Element:
    reference = _ds(parent, "Reference", URI=uri)
    if type_uri:
        reference.set("Type", type_uri)
    if transform:
        _ds(_ds(reference, "Transforms"), "Transform", Algorithm=transform)
    _ds(reference, "DigestMethod", Algorithm=digest_uri)
    _ds(reference, "DigestValue").text = digest
    return reference


def signature_id_for(unique_id: str) -> str:
    """A valid xs:ID derived from the signature entry's uniqueId (DRIMbox uses the bare OID, not an NCName)."""
    return "sig-" + unique_id.replace(".", "-").replace("^", "-")


def build_submission_signature(
    signer: SigningIdentity,
    *,
    submission_set_unique_id: str,
    documents: Mapping[str, bytes],
    signature_id: str,
    signing_time: dt.datetime,
    algorithm: Algorithm = "rsa-sha1",
) -> bytes:
    """The XAdES document (UTF-8 bytes) signing the submission set and `documents` (uniqueId → bytes)."""
    method_uri, digest_uri, hash_class = _METHODS[algorithm]
    digest_name = _DIGEST_URIS[digest_uri]
    signature = etree.Element(qname(DS, "Signature"), nsmap={"ds": DS}, Id=signature_id)
    signed_info = _ds(signature, "SignedInfo")
    _ds(signed_info, "CanonicalizationMethod", Algorithm=C14N_WITH_COMMENTS)
    _ds(signed_info, "SignatureMethod", Algorithm=method_uri)
    signature_value = _ds(signature, "SignatureValue")
    _ds(_ds(_ds(signature, "KeyInfo"), "X509Data"), "X509Certificate").text = base64.b64encode(
        signer.certificate_der).decode("ascii")

    manifest = _ds(_ds(signature, "Object"), "Manifest", Id=MANIFEST_ID)
    _reference(manifest, f"urn:oid:{submission_set_unique_id}", "http://www.w3.org/2000/09/xmldsig#sha1",
               PLACEHOLDER_DIGEST)
    for unique_id, content in documents.items():
        _reference(manifest, f"urn:oid:{unique_id}", digest_uri, document_digest(content, digest_name),
                   transform=C14N_WITH_COMMENTS)
    properties = _ds(_ds(signature, "Object"), "SignatureProperties")
    _ds(properties, "SignatureProperty", Id="purposeOfSignature", Target=f"#{signature_id}").text = PURPOSE_OF_SIGNATURE
    qualifying = etree.SubElement(_ds(signature, "Object"), qname(XADES, "QualifyingProperties"),
                                  nsmap={"xades": XADES}, Target=f"#{signature_id}")
    signed_properties = etree.SubElement(qualifying, qname(XADES, "SignedProperties"), Id=SIGNED_PROPERTIES_ID)
    _signed_signature_properties(signed_properties, signer, signing_time, digest_uri, digest_name)
    etree.SubElement(signed_properties, qname(XADES, "SignedDataObjectProperties"))

    _reference(signed_info, f"#{MANIFEST_ID}", digest_uri, _c14n_digest(manifest, digest_name), type_uri=MANIFEST_TYPE)
    _reference(signed_info, f"#{SIGNED_PROPERTIES_ID}", digest_uri, _c14n_digest(signed_properties, digest_name),
               type_uri=SIGNED_PROPERTIES_TYPE)
    canonical = etree.tostring(signed_info, method="c14n", exclusive=False, with_comments=True)
    value = signer.key.sign(canonical, padding.PKCS1v15(), hash_class())
    signature_value.text = base64.b64encode(value).decode("ascii")
    return etree.tostring(signature, xml_declaration=True, encoding="UTF-8")


def _signed_signature_properties(parent: etree._Element, signer: SigningIdentity, when: dt.datetime,
                                 digest_uri: str, digest_name: str) -> None:
    properties = etree.SubElement(parent, qname(XADES, "SignedSignatureProperties"))
    etree.SubElement(properties, qname(XADES, "SigningTime")).text = (
        when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    cert = etree.SubElement(etree.SubElement(properties, qname(XADES, "SigningCertificate")), qname(XADES, "Cert"))
    digest = etree.SubElement(cert, qname(XADES, "CertDigest"))
    # ds:DigestMethod / ds:DigestValue, the form of XAdES ≥ 1.2 and of common DSG signers; the corrected
    # v1.1.1 XSD would want xades:-qualified children. The verifier accepts both.
    _ds(digest, "DigestMethod", Algorithm=digest_uri)
    _ds(digest, "DigestValue").text = base64.b64encode(
        hashlib.new(digest_name, signer.certificate_der).digest()).decode("ascii")
    issuer_serial = etree.SubElement(cert, qname(XADES, "IssuerSerial"))
    _ds(issuer_serial, "X509IssuerName").text = signer.certificate.issuer.rfc4514_string()
    _ds(issuer_serial, "X509SerialNumber").text = str(signer.certificate.serial_number)
    policy = etree.SubElement(properties, qname(XADES, "SignaturePolicyIdentifier"))
    etree.SubElement(policy, qname(XADES, "SignaturePolicyImplied"))


@dataclass(frozen=True, slots=True)
class VerifiedSignature:
    """What a verified submission-set signature says."""

    signer_certificate: x509.Certificate
    #: uniqueIds the manifest references, submission set first.
    referenced_unique_ids: tuple[str, ...]
    signing_time: str | None


def verify_submission_signature(
    signature: bytes,
    documents: Mapping[str, bytes],
    *,
    ca_pem_file: str,
    submission_set_unique_id: str | None = None,
    verification_time: dt.datetime | None = None,
) -> VerifiedSignature:
    """Verify the XAdES document: signxml (SignedInfo, key, chain to the CA), then each manifest digest.

    `documents` maps each document uniqueId to the bytes received; every one must be referenced and
    match, and the first reference must name `submission_set_unique_id` when given. Raises `XadesError`.
    """
    config = SignatureConfiguration(
        expect_references=2,
        signature_methods=frozenset({SignatureMethod.RSA_SHA1, SignatureMethod.RSA_SHA256}),
        digest_algorithms=frozenset({DigestAlgorithm.SHA1, DigestAlgorithm.SHA256}),
        default_reference_c14n_method=CanonicalizationMethod.CANONICAL_XML_1_0_WITH_COMMENTS,
        verification_time=verification_time,
    )
    try:
        results = _DsgVerifier().verify(signature, ca_pem_file=ca_pem_file, expect_config=config)
    except (SignXMLException, etree.XMLSyntaxError, ValueError) as exc:
        raise XadesError(f"XAdES signature does not verify: {exc}") from exc
    signed = {r.signed_xml.tag: r.signed_xml for r in results if r.signed_xml is not None}
    manifest = signed.get(qname(DS, "Manifest"))
    if manifest is None or qname(XADES, "SignedProperties") not in signed:
        raise XadesError("the signature must reference the IHEManifest and the SignedProperties")
    root = results[0].signature_xml
    certificate = signing_certificate(root, results[0].signature_key)
    uris = _check_manifest(manifest, documents, submission_set_unique_id)
    _check_signing_certificate(signed[qname(XADES, "SignedProperties")], certificate)
    return VerifiedSignature(
        signer_certificate=certificate,
        referenced_unique_ids=uris,
        signing_time=signed[qname(XADES, "SignedProperties")].findtext(f".//{qname(XADES, 'SigningTime')}"),
    )


def _check_manifest(manifest: etree._Element, documents: Mapping[str, bytes], submission_set: str | None) -> tuple[str, ...]:
    references = manifest.findall(qname(DS, "Reference"))
    uris = tuple(r.get("URI", "").removeprefix("urn:oid:") for r in references)
    if not references or (submission_set is not None and uris[0] != submission_set):
        raise XadesError(f"the manifest's first reference must be urn:oid:{submission_set}")
    for unique_id, content in documents.items():
        if unique_id not in uris[1:]:
            raise XadesError(f"the manifest does not reference document {unique_id}")
        reference = references[uris.index(unique_id, 1)]
        method = reference.find(qname(DS, "DigestMethod")).get("Algorithm", "")
        name = _DIGEST_URIS.get(method)
        if name is None:
            raise XadesError(f"unsupported manifest digest method {method}")
        if (reference.findtext(qname(DS, "DigestValue")) or "").strip() != document_digest(content, name):
            raise XadesError(f"the manifest digest of document {unique_id} does not match its content")
    return uris


def _check_signing_certificate(signed_properties: etree._Element, certificate: x509.Certificate) -> None:
    digest = signed_properties.find(f".//{qname(XADES, 'CertDigest')}")
    if digest is None:
        raise XadesError("SignedProperties lack SigningCertificate/Cert/CertDigest")
    method = digest.find(qname(DS, "DigestMethod"))
    method = method if method is not None else digest.find(qname(XADES, "DigestMethod"))
    name = _DIGEST_URIS.get(method.get("Algorithm", "") if method is not None else "")
    value = digest.findtext(qname(DS, "DigestValue")) or digest.findtext(qname(XADES, "DigestValue")) or ""
    if name is None:
        raise XadesError("SigningCertificate CertDigest has no known DigestMethod")
    expected = base64.b64encode(hashlib.new(name, certificate.public_bytes(Encoding.DER)).digest()).decode("ascii")
    if value.strip() != expected:
        raise XadesError("SigningCertificate digest does not match the signing certificate")


__all__ = [
    "MANIFEST_ID",
    "VerifiedSignature",
    "XadesError",
    "build_submission_signature",
    "document_digest",
    "signature_id_for",
    "verify_submission_signature",
]
