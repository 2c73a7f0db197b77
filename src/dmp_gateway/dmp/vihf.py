"""The VIHF: a signed SAML 2.0 assertion identifying the structure, the actor and the patient.

Carried in `wsse:Security` of every DMP call. Attributes and structure: dmp-interfaces.md §7
(HL7V2-IG mapping, DRIMBOX VIHF, ANS sample); enveloped XML-DSig (exc-c14n) with the ORG_SIGN key,
Issuer = the signing certificate's subject DN. `verify_vihf` is what the simulator and tests use.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from lxml import etree
from signxml import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureMethod,
    XMLSigner,
    XMLVerifier,
)
from signxml.exceptions import SignXMLException
from signxml.verifier import SignatureConfiguration

from dmp_gateway.dmp.certs import SigningIdentity, subject_dn
from dmp_gateway.dmp.namespaces import DS, HL7, SAML2, XSI, qname
from dmp_gateway.dmp.types import Code
from dmp_gateway.ins import Ins

SignatureAlgorithm = Literal["rsa-sha256", "rsa-sha1"]

#: The automaton role of unattended sending (HL7V2-IG; TRE_A00-ProducteurDocNonPS).
AUTOMATE = Code("AUTOMATE", "1.2.250.1.213.1.1.4.6", "Automate")
#: purposeofuse "normal access" (HL7V2-IG; DRIM-DATA).
NORMAL_ACCESS = Code("normal", "1.2.250.1.213.1.1.4.248", "Accès normal")
PURPOSE_CODE_SYSTEM_NAME = "mode acces VIHF 1.0"

ATTR_SUBJECT_ID = "urn:oasis:names:tc:xspa:1.0:subject:subject-id"
ATTR_ROLE = "urn:oasis:names:tc:xacml:2.0:subject:role"
ATTR_RESOURCE_ID = "urn:oasis:names:tc:xacml:2.0:resource:resource-id"
ATTR_PURPOSE = "urn:oasis:names:tc:xspa:1.0:subject:purposeofuse"
X509_SUBJECT_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName"

#: Attributes DRIMbox marks mandatory (dmp-interfaces.md §7); the simulator checks these.
REQUIRED_ATTRIBUTES = (
    "VIHF_Version",
    ATTR_ROLE,
    "Secteur_Activite",
    "Ressource_URN",
    ATTR_PURPOSE,
    ATTR_SUBJECT_ID,
    "Authentification_Mode",
    "Identifiant_Structure",
    "LPS_ID_HOMOLOGATION_DMP",
    "LPS_Nom",
    ATTR_RESOURCE_ID,
)

_ALGORITHMS = {
    "rsa-sha256": (SignatureMethod.RSA_SHA256, DigestAlgorithm.SHA256),
    "rsa-sha1": (SignatureMethod.RSA_SHA1, DigestAlgorithm.SHA1),
}


@dataclass(frozen=True, slots=True)
class VihfProfile:
    """Who speaks to the DMP: the static part of every VIHF (from settings)."""

    #: Identifiant_Structure: Struct_IdNat; must equal the certificates' subject OU.
    structure_id: str
    #: Subject NameID: the person responsible for the processing (PS_IdNat), or the software id.
    name_id: str
    #: subject-id: for automated processing, software name, model and service (never patient data).
    subject_id: str
    version: str = "3.0"
    authentication_mode: str = "INDIRECTE_RENFORCEE"
    secteur_activite: str = "SA01^1.2.250.1.71.4.2.4"
    roles: tuple[Code, ...] = (AUTOMATE,)
    purpose_of_use: Code = NORMAL_ACCESS
    lps_name: str = "dmp-gateway"
    lps_version: str = "0.1.0"
    lps_homologation_id: str = "DMPGW-DEV"
    #: Optional installation id (LPS_ID).
    lps_id: str | None = None
    authn_context_class: str = "urn:oasis:names:tc:SAML:2.0:ac:classes:TLSClient"
    signature_algorithm: SignatureAlgorithm = "rsa-sha256"


class _Signer(XMLSigner):
    """signxml refuses SHA-1 by default; the DMP samples still use it, so it is a configured choice."""

    def check_deprecated_methods(self) -> None:  # noqa: D102 - deliberate override
        return None


def _instant(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _attribute(statement: etree._Element, name: str, *values: str | etree._Element) -> None:
    attribute = etree.SubElement(statement, qname(SAML2, "Attribute"), Name=name)
    for value in values:
        holder = etree.SubElement(attribute, qname(SAML2, "AttributeValue"))
        if isinstance(value, str):
            holder.text = value
        else:
            holder.append(value)


def _ce(tag: str, code: Code, code_system_name: str | None = None) -> etree._Element:
    element = etree.Element(qname(HL7, tag), nsmap={None: HL7, "xsi": XSI})
    element.set(qname(XSI, "type"), "CE")
    element.set("code", code.code)
    element.set("codeSystem", code.scheme)
    if code_system_name is not None:
        element.set("codeSystemName", code_system_name)
    element.set("displayName", code.display)
    return element


def build_unsigned_vihf(profile: VihfProfile, ins: Ins, issuer_dn: str, *, now: dt.datetime,
                        assertion_id: str | None = None) -> etree._Element:
    """The assertion before signing, with a `ds:Signature Id="placeholder"` right after Issuer."""
    assertion = etree.Element(qname(SAML2, "Assertion"), nsmap={"saml2": SAML2, "xsi": XSI})
    assertion.set("ID", assertion_id or f"_{uuid.uuid4()}")
    assertion.set("IssueInstant", _instant(now))
    assertion.set("Version", "2.0")
    issuer = etree.SubElement(assertion, qname(SAML2, "Issuer"), Format=X509_SUBJECT_FORMAT)
    issuer.text = issuer_dn
    etree.SubElement(assertion, qname(DS, "Signature"), nsmap={"ds": DS}, Id="placeholder")
    subject = etree.SubElement(assertion, qname(SAML2, "Subject"))
    etree.SubElement(subject, qname(SAML2, "NameID")).text = profile.name_id
    authn = etree.SubElement(assertion, qname(SAML2, "AuthnStatement"), AuthnInstant=_instant(now))
    context = etree.SubElement(authn, qname(SAML2, "AuthnContext"))
    etree.SubElement(context, qname(SAML2, "AuthnContextClassRef")).text = profile.authn_context_class
    statement = etree.SubElement(assertion, qname(SAML2, "AttributeStatement"))
    _attribute(statement, "VIHF_Version", profile.version)
    _attribute(statement, "Authentification_Mode", profile.authentication_mode)
    _attribute(statement, "Identifiant_Structure", profile.structure_id)
    _attribute(statement, "Secteur_Activite", profile.secteur_activite)
    _attribute(statement, ATTR_SUBJECT_ID, profile.subject_id)
    _attribute(statement, ATTR_ROLE, *(_ce("Role", role) for role in profile.roles))
    _attribute(statement, ATTR_RESOURCE_ID, ins.cx)
    _attribute(statement, "Ressource_URN", "urn:dmp")
    _attribute(statement, ATTR_PURPOSE, _ce("PurposeOfUse", profile.purpose_of_use, PURPOSE_CODE_SYSTEM_NAME))
    _attribute(statement, "LPS_Nom", profile.lps_name)
    _attribute(statement, "LPS_Version", profile.lps_version)
    _attribute(statement, "LPS_ID_HOMOLOGATION_DMP", profile.lps_homologation_id)
    if profile.lps_id:
        _attribute(statement, "LPS_ID", profile.lps_id)
    return assertion


def build_vihf(profile: VihfProfile, ins: Ins, signer: SigningIdentity, *, now: dt.datetime,
               assertion_id: str | None = None) -> etree._Element:
    """The signed VIHF for one call about `ins` (its resource-id): enveloped, exc-c14n, `#<ID>` reference."""
    assertion = build_unsigned_vihf(profile, ins, signer.issuer_dn, now=now, assertion_id=assertion_id)
    method, digest = _ALGORITHMS[profile.signature_algorithm]
    xml_signer = _Signer(
        signature_algorithm=method, digest_algorithm=digest, c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0
    )
    xml_signer.namespaces = {"ds": DS}
    return xml_signer.sign(assertion, key=signer.key, cert=signer.certificates_pem, id_attribute="ID")


@dataclass(frozen=True, slots=True)
class VihfClaims:
    """What a verified VIHF says (for the simulator's checks and for tests)."""

    issuer: str
    signer_dn: str
    signer_certificate: x509.Certificate
    name_id: str | None
    #: Attribute name -> text values (coded values appear as `code^codeSystem`).
    attributes: dict[str, tuple[str, ...]]

    def first(self, name: str) -> str | None:
        values = self.attributes.get(name, ())
        return values[0] if values else None


def signing_certificate(signature: etree._Element, public_key_pem: bytes) -> x509.Certificate:
    """The `ds:X509Certificate` of a verified signature whose key signxml used (leaf of the chain)."""
    for text in signature.itertext(qname(DS, "X509Certificate")):
        certificate = x509.load_der_x509_certificate(base64.b64decode(text))
        pem = certificate.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        if pem == public_key_pem:
            return certificate
    raise VihfError("no X509Certificate in the signature matches the verifying key")


class VihfError(ValueError):
    """The VIHF is missing, unsigned, badly signed or not trusted."""


def verify_vihf(assertion: etree._Element, ca_pem_file: str, *, allow_sha1: bool = True,
                verification_time: dt.datetime | None = None) -> VihfClaims:
    """Verify the enveloped signature against the CA (signxml) and return the signed claims.

    Only what the signature covers is read back (signxml's `signed_xml`), so an attacker cannot
    add unsigned attributes. Raises `VihfError`.
    """
    methods = {m for m in SignatureMethod if m.name.startswith("RSA_")}
    digests = set(DigestAlgorithm)
    if not allow_sha1:
        methods = {m for m in methods if "SHA1" not in m.name}
        digests = {d for d in digests if "SHA1" not in d.name}
    config = SignatureConfiguration(
        signature_methods=frozenset(methods), digest_algorithms=frozenset(digests),
        verification_time=verification_time,
    )
    try:
        result = XMLVerifier().verify(
            etree.tostring(assertion), ca_pem_file=ca_pem_file, id_attribute="ID", expect_config=config
        )
    except (SignXMLException, etree.XMLSyntaxError) as exc:
        raise VihfError(f"VIHF signature does not verify: {exc}") from exc
    signed = result.signed_xml
    if signed is None or signed.tag != qname(SAML2, "Assertion"):
        raise VihfError("the signature does not cover the saml2:Assertion")
    issuer = signed.findtext(qname(SAML2, "Issuer")) or ""
    certificate = signing_certificate(result.signature_xml, result.signature_key)
    attributes: dict[str, tuple[str, ...]] = {}
    for attribute in signed.iter(qname(SAML2, "Attribute")):
        values = []
        for value in attribute.iter(qname(SAML2, "AttributeValue")):
            coded = next((c for c in value if isinstance(c.tag, str)), None)
            values.append(f"{coded.get('code')}^{coded.get('codeSystem')}" if coded is not None
                          else (value.text or "").strip())
        attributes[attribute.get("Name", "")] = tuple(values)
    return VihfClaims(
        issuer=issuer,
        signer_dn=subject_dn(certificate),
        signer_certificate=certificate,
        name_id=signed.findtext(f"{qname(SAML2, 'Subject')}/{qname(SAML2, 'NameID')}"),
        attributes=attributes,
    )


__all__ = [
    "AUTOMATE",
    "NORMAL_ACCESS",
    "REQUIRED_ATTRIBUTES",
    "VihfClaims",
    "VihfError",
    "VihfProfile",
    "build_unsigned_vihf",
    "build_vihf",
    "verify_vihf",
]
