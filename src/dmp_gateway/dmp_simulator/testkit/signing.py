"""Signatures for reference messages: the VIHF (enveloped XML-DSig, exc-c14n) with signxml, and the
submission-set XAdES built step by step as dmp-interfaces.md §4.4 describes it (manifest of C14N-with-comments
digests, SignatureProperty purposeOfSignature, XAdES 1.1.1 SignedProperties, SignedInfo over both).
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree
from signxml import XMLSigner
from signxml.algorithms import CanonicalizationMethod, DigestAlgorithm, SignatureMethod

from dmp_gateway.dmp.namespaces import (
    C14N_WITH_COMMENTS, DS, MANIFEST_TYPE, PURPOSE_OF_SIGNATURE, SIGNED_PROPERTIES_TYPE, XADES, qname,
)
from dmp_gateway.dmp_simulator.testkit.pki import Identity

RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
_HASHES = {SHA1: hashlib.sha1, SHA256: hashlib.sha256}
_SIGN_HASHES = {RSA_SHA1: hashes.SHA1, RSA_SHA256: hashes.SHA256}


class _LegacySigner(XMLSigner):
    """signxml refuses SHA-1 unless told; the DMP samples still sign VIHFs with rsa-sha1 (§7)."""

    def check_deprecated_methods(self) -> None:
        return None


def sign_vihf(assertion: etree._Element, identity: Identity, *, sha1: bool = False) -> etree._Element:
    """The assertion with an enveloped signature placed right after Issuer (SAML 2.0 §5.4.1)."""
    placeholder = etree.Element(qname(DS, "Signature"), Id="placeholder", nsmap={"ds": DS})
    assertion.insert(1, placeholder)
    signer = (_LegacySigner if sha1 else XMLSigner)(
        signature_algorithm=SignatureMethod.RSA_SHA1 if sha1 else SignatureMethod.RSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA1 if sha1 else DigestAlgorithm.SHA256,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    return signer.sign(
        assertion, key=identity.key, cert=[identity.certificate], reference_uri="#" + assertion.get("ID"),
        id_attribute="ID",
    )


def _c14n(element: etree._Element) -> bytes:
    return etree.tostring(element, method="c14n", exclusive=False, with_comments=True)


def document_digest(tree: etree._ElementTree, digest: str = SHA1) -> str:
    """Base64 digest of the C14N-with-comments of a whole XML document (manifest references)."""
    return base64.b64encode(_HASHES[digest](_c14n(tree)).digest()).decode("ascii")


def _sub(parent: etree._Element, ns: str, local: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, qname(ns, local), attributes)
    if text is not None:
        element.text = text
    return element


def _reference(parent: etree._Element, uri: str, digest_method: str, digest: str, *, type_: str | None = None,
               c14n: bool = False) -> etree._Element:
    reference = _sub(parent, DS, "Reference", URI=uri, **({"Type": type_} if type_ else {}))
    if c14n:
        _sub(_sub(reference, DS, "Transforms"), DS, "Transform", Algorithm=C14N_WITH_COMMENTS)
    _sub(reference, DS, "DigestMethod", Algorithm=digest_method)
    _sub(reference, DS, "DigestValue", digest)
    return reference


def build_xades(
    *, documents: dict[str, etree._ElementTree], submission_set_uid: str, identity: Identity, signature_id: str,
    signing_time: datetime, signature_method: str = RSA_SHA256, digest_method: str = SHA1,
) -> bytes:
    """The XAdES signature document of a submission set, as bytes ready to be a MIME part."""
    signature = etree.Element(qname(DS, "Signature"), Id=signature_id, nsmap={"ds": DS})
    signed_info = _sub(signature, DS, "SignedInfo")
    _sub(signed_info, DS, "CanonicalizationMethod", Algorithm=C14N_WITH_COMMENTS)
    _sub(signed_info, DS, "SignatureMethod", Algorithm=signature_method)
    signature_value = _sub(signature, DS, "SignatureValue")
    der = identity.certificate.public_bytes(Encoding.DER)
    _sub(_sub(_sub(signature, DS, "KeyInfo"), DS, "X509Data"), DS, "X509Certificate", base64.b64encode(der).decode())
    manifest = _sub(_sub(signature, DS, "Object"), DS, "Manifest", Id="IHEManifest")
    _reference(manifest, f"urn:oid:{submission_set_uid}", SHA1, "AA==")
    for uid, tree in documents.items():
        _reference(manifest, f"urn:oid:{uid}", digest_method, document_digest(tree, digest_method), c14n=True)
    properties = _sub(_sub(signature, DS, "Object"), DS, "SignatureProperties")
    _sub(properties, DS, "SignatureProperty", PURPOSE_OF_SIGNATURE, Id="purposeOfSignature", Target=f"#{signature_id}")
    qualifying = etree.SubElement(
        _sub(signature, DS, "Object"), qname(XADES, "QualifyingProperties"), Target=f"#{signature_id}",
        nsmap={"xades": XADES},
    )
    signed_properties = _sub(qualifying, XADES, "SignedProperties", Id="S0-SignedProperties")
    signature_properties = _sub(signed_properties, XADES, "SignedSignatureProperties")
    _sub(signature_properties, XADES, "SigningTime", signing_time.strftime("%Y-%m-%dT%H:%M:%SZ"))
    cert = _sub(_sub(signature_properties, XADES, "SigningCertificate"), XADES, "Cert")
    cert_digest = _sub(cert, XADES, "CertDigest")
    _sub(cert_digest, DS, "DigestMethod", Algorithm=SHA1)
    _sub(cert_digest, DS, "DigestValue", base64.b64encode(hashlib.sha1(der).digest()).decode())
    issuer_serial = _sub(cert, XADES, "IssuerSerial")
    _sub(issuer_serial, DS, "X509IssuerName", identity.certificate.issuer.rfc4514_string())
    _sub(issuer_serial, DS, "X509SerialNumber", str(identity.certificate.serial_number))
    _sub(_sub(signature_properties, XADES, "SignaturePolicyIdentifier"), XADES, "SignaturePolicyImplied")
    _sub(signed_properties, XADES, "SignedDataObjectProperties")
    for target, type_ in ((manifest, MANIFEST_TYPE), (signed_properties, SIGNED_PROPERTIES_TYPE)):
        digest = base64.b64encode(_HASHES[digest_method](_c14n(target)).digest()).decode()
        _reference(signed_info, f"#{target.get('Id')}", digest_method, digest, type_=type_)
    signature_value.text = base64.b64encode(
        identity.key.sign(_c14n(signed_info), padding.PKCS1v15(), _SIGN_HASHES[signature_method]())
    ).decode()
    return etree.tostring(signature, xml_declaration=True, encoding="UTF-8")
