"""Judge the VIHF: the SAML 2.0 assertion in wsse:Security that says who calls and for which patient.

Rules (dmp-interfaces.md §7, §8, §10): the assertion is present, Version 2.0 with ID/IssueInstant/Issuer;
it carries an enveloped XML-DSig signature over itself (exc-c14n) by a certificate that chains to the trusted
CA and is valid now; Issuer is that certificate's subject DN; it is not expired (Conditions, IssueInstant age);
AudienceRestriction is absent; the attributes DRIMbox marks mandatory are present and well-formed;
Identifiant_Structure equals the OU of the signing certificate and of the TLS client certificate.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from lxml import etree
from signxml import SignatureConfiguration, XMLVerifier
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.exceptions import InvalidInput, SignXMLException

from dmp_gateway.dmp.namespaces import DS, HL7, SAML2, WSSE, qname
from dmp_gateway.dmp_simulator.rejections import AUTHENTICATION_ERROR, INVALID_VIHF, Rejected
from dmp_gateway.dmp_simulator.trust import (
    TrustStore,
    UntrustedCertificate,
    load_der_or_base64,
    same_dn,
    structure_id,
    subject_dn,
)
from dmp_gateway.ins import INS_OIDS
from dmp_gateway.lru import Lru

ATTR_VERSION = "VIHF_Version"
ATTR_STRUCTURE = "Identifiant_Structure"
ATTR_SECTEUR = "Secteur_Activite"
ATTR_SUBJECT_ID = "urn:oasis:names:tc:xspa:1.0:subject:subject-id"
ATTR_ROLE = "urn:oasis:names:tc:xacml:2.0:subject:role"
ATTR_RESOURCE_ID = "urn:oasis:names:tc:xacml:2.0:resource:resource-id"
ATTR_RESSOURCE_URN = "Ressource_URN"
ATTR_PURPOSE = "urn:oasis:names:tc:xspa:1.0:subject:purposeofuse"
ATTR_AUTH_MODE = "Authentification_Mode"
ATTR_HOMOLOGATION = "LPS_ID_HOMOLOGATION_DMP"
ATTR_LPS_NAME = "LPS_Nom"

#: Attributes DRIMbox marks mandatory (dmp-interfaces.md §7).
REQUIRED_ATTRIBUTES = (
    ATTR_VERSION, ATTR_ROLE, ATTR_SECTEUR, ATTR_RESSOURCE_URN, ATTR_PURPOSE, ATTR_SUBJECT_ID,
    ATTR_AUTH_MODE, ATTR_STRUCTURE, ATTR_HOMOLOGATION, ATTR_LPS_NAME,
)
AUTH_MODES = ("DIRECTE", "INDIRECTE", "INDIRECTE_RENFORCEE")
_SECTEUR = re.compile(r"^[A-Z0-9_]+\^1\.2\.250\.1\.71\.4\.2\.4$")
_CX_INS = re.compile(r"^([0-9AB]{15})\^\^\^&([0-9.]+)&ISO\^NH$")

_SIGNATURE_CONFIG = dict(
    require_x509=True,
    location="./",
    expect_references=1,
    signature_methods=frozenset({SignatureMethod.RSA_SHA1, SignatureMethod.RSA_SHA256, SignatureMethod.RSA_SHA512}),
    digest_algorithms=frozenset({DigestAlgorithm.SHA1, DigestAlgorithm.SHA256, DigestAlgorithm.SHA512}),
)


@dataclass(frozen=True, slots=True)
class VihfPolicy:
    """What the simulator accepts in a VIHF (configurable where the DMP's rule is not public)."""

    versions: tuple[str, ...] = ("3.0", "4.0")
    #: Oldest IssueInstant accepted when the assertion has no NotOnOrAfter.
    max_age: timedelta = timedelta(hours=2)
    #: Tolerance for clocks that are a little ahead.
    clock_skew: timedelta = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class VihfIdentity:
    """What a valid VIHF establishes."""

    structure_id: str
    #: Subject NameID: the professional or the person responsible for automated processing.
    subject: str
    #: Patient in CX form (`resource-id`).
    patient_cx: str
    #: The matricule of `patient_cx`.
    patient_ins: str
    certificate: x509.Certificate


def _fail(text: str) -> Rejected:
    return Rejected(INVALID_VIHF, f"VIHF: {text}")


def find_assertion(header: etree._Element | None) -> etree._Element:
    if header is None:
        raise _fail("no SOAP header, so no wsse:Security with a VIHF assertion")
    security = header.find(qname(WSSE, "Security"))
    if security is None:
        raise _fail("no wsse:Security header")
    assertion = security.find(qname(SAML2, "Assertion"))
    if assertion is None:
        raise _fail("no saml2:Assertion in wsse:Security")
    return assertion


def check_vihf(
    header: etree._Element | None,
    *,
    trust: TrustStore,
    now: datetime,
    policy: VihfPolicy = VihfPolicy(),
    tls_certificate: x509.Certificate | None = None,
) -> VihfIdentity:
    """Validate the VIHF of a request header; raise Rejected (DMPInvalidVIHF / DMPAuthenticationError)."""
    assertion = find_assertion(header)
    if assertion.get("Version") != "2.0" or not assertion.get("ID") or not assertion.get("IssueInstant"):
        raise _fail("the assertion needs Version=\"2.0\", an ID and an IssueInstant")
    signature = assertion.find(qname(DS, "Signature"))
    if signature is None:
        raise _fail("the assertion is not signed (no ds:Signature)")
    cert_el = signature.find(f"{qname(DS, 'KeyInfo')}/{qname(DS, 'X509Data')}/{qname(DS, 'X509Certificate')}")
    if cert_el is None or not (cert_el.text or "").strip():
        raise _fail("the signature has no KeyInfo/X509Data/X509Certificate")
    try:
        certificate = load_der_or_base64(cert_el.text.strip())
    except ValueError as exc:
        raise _fail(f"signing certificate unreadable: {exc}") from exc
    try:
        trust.verify(certificate, now)
    except UntrustedCertificate as exc:
        raise Rejected(AUTHENTICATION_ERROR, f"Erreur d'authentification de la personne morale: VIHF {exc}") from exc
    signed = _verified_assertion(assertion, certificate, now)
    _check_issuer(signed, certificate)
    _check_times(signed, now, policy)
    attributes = _attributes(signed)
    _check_attributes(attributes, policy)
    subject = signed.findtext(f"{qname(SAML2, 'Subject')}/{qname(SAML2, 'NameID')}")
    if not (subject or "").strip():
        raise _fail("Subject/NameID (the professional's identifier) is missing")
    if signed.find(qname(SAML2, "AuthnStatement")) is None:
        raise _fail("AuthnStatement is missing")
    structure = attributes[ATTR_STRUCTURE][0].text_value
    _check_structure(structure, certificate, "VIHF signing certificate")
    if tls_certificate is not None:
        _check_structure(structure, tls_certificate, "TLS client certificate")
    cx = attributes[ATTR_RESOURCE_ID][0].text_value if ATTR_RESOURCE_ID in attributes else ""
    match = _CX_INS.match(cx)
    if not match or match.group(2) not in INS_OIDS:
        raise _fail(f"{ATTR_RESOURCE_ID} must be the patient INS as <INS>^^^&<INS OID>&ISO^NH, got {cx!r}")
    return VihfIdentity(structure, subject.strip(), cx, match.group(1), certificate)


class _VerifiedSignatures(Lru[tuple[bytes, bytes], etree._Element]):
    """Assertions whose signature already verified, by their exact bytes and signing certificate.

    A client reuses one VIHF for several calls about a patient (the gateway: TD0.2 then ITI-41), and
    the same bytes signed by the same key verify the same way every time. Only the signature math is
    remembered: the certificate's trust and validity and the assertion's times are checked on every
    request by the caller. Bounded, oldest out.
    """

    MAX_ENTRIES = 4096

    def __init__(self) -> None:
        super().__init__(self.MAX_ENTRIES)

    @staticmethod
    def key(assertion: etree._Element, certificate: x509.Certificate) -> tuple[bytes, bytes]:
        return hashlib.sha256(etree.tostring(assertion)).digest(), certificate.fingerprint(hashes.SHA256())


_VERIFIED = _VerifiedSignatures()


def _verified_assertion(assertion: etree._Element, certificate: x509.Certificate, now: datetime) -> etree._Element:
    """The assertion as covered by the signature (read attributes from this copy only)."""
    key = _VERIFIED.key(assertion, certificate)
    signed = _VERIFIED.get(key)
    if signed is None:
        signed = _verify_signature(assertion, certificate, now)
        _VERIFIED.put(key, signed)
    return signed


def _verify_signature(assertion: etree._Element, certificate: x509.Certificate, now: datetime) -> etree._Element:
    config = SignatureConfiguration(**_SIGNATURE_CONFIG, verification_time=now)
    try:
        # A SAML 2.0 assertion is referenced by its `ID` attribute (SAML core §5.4.2): resolve only that one,
        # not signxml's default Id, ID, id, xml:id series (one XPath scan of the assertion each).
        result = XMLVerifier().verify(
            assertion, x509_cert=certificate, expect_config=config, validate_schema=False, id_attribute="ID"
        )
    except (SignXMLException, InvalidInput, ValueError, etree.LxmlError) as exc:
        raise _fail(f"signature does not verify: {exc}") from exc
    signed = result.signed_xml
    if signed is None or signed.tag != qname(SAML2, "Assertion") or signed.get("ID") != assertion.get("ID"):
        raise _fail("the signature does not cover the assertion itself (Reference URI must be #<assertion ID>)")
    return signed


def _check_issuer(signed: etree._Element, certificate: x509.Certificate) -> None:
    issuer = (signed.findtext(qname(SAML2, "Issuer")) or "").strip()
    if not issuer:
        raise _fail("Issuer is missing")
    if not same_dn(issuer, certificate.subject):
        raise _fail(f"Issuer {issuer!r} is not the signing certificate's subject {subject_dn(certificate)!r}")


def _parse_instant(value: str | None, what: str) -> datetime:
    try:
        return datetime.fromisoformat((value or "").strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise _fail(f"{what} {value!r} is not an xs:dateTime") from exc


def _check_times(signed: etree._Element, now: datetime, policy: VihfPolicy) -> None:
    issued = _parse_instant(signed.get("IssueInstant"), "IssueInstant")
    if issued.tzinfo is None:
        raise _fail("IssueInstant must be UTC (end with Z)")
    if issued > now + policy.clock_skew:
        raise _fail(f"IssueInstant {issued:%Y-%m-%dT%H:%M:%SZ} is in the future")
    conditions = signed.find(qname(SAML2, "Conditions"))
    not_after = conditions.get("NotOnOrAfter") if conditions is not None else None
    if conditions is not None:
        if conditions.find(qname(SAML2, "AudienceRestriction")) is not None:
            raise _fail("Conditions/AudienceRestriction must not be set")
        if conditions.get("NotBefore") and _parse_instant(conditions.get("NotBefore"), "NotBefore") > now + policy.clock_skew:
            raise _fail("the assertion is not valid yet (NotBefore)")
        if not_after and _parse_instant(not_after, "NotOnOrAfter") <= now - policy.clock_skew:
            raise _fail(f"the assertion expired (NotOnOrAfter {not_after})")
    if not not_after and issued < now - policy.max_age:
        raise _fail(f"the assertion expired: issued {issued:%Y-%m-%dT%H:%M:%SZ}, older than {policy.max_age}")


@dataclass(frozen=True, slots=True)
class _Value:
    text_value: str
    element: etree._Element


def _attributes(signed: etree._Element) -> dict[str, list[_Value]]:
    out: dict[str, list[_Value]] = {}
    for attribute in signed.iter(qname(SAML2, "Attribute")):
        values = [
            _Value((v.text or "").strip(), v) for v in attribute.findall(qname(SAML2, "AttributeValue"))
        ]
        out.setdefault(attribute.get("Name", ""), []).extend(values)
    return out


def _check_attributes(attributes: dict[str, list[_Value]], policy: VihfPolicy) -> None:
    missing = [name for name in REQUIRED_ATTRIBUTES if not _has_value(attributes.get(name, []))]
    if missing:
        raise _fail(f"required attribute(s) missing or empty: {', '.join(missing)}")
    version = attributes[ATTR_VERSION][0].text_value
    if version not in policy.versions:
        raise _fail(f"{ATTR_VERSION} {version!r} is not one of {', '.join(policy.versions)}")
    mode = attributes[ATTR_AUTH_MODE][0].text_value
    if mode not in AUTH_MODES:
        raise _fail(f"{ATTR_AUTH_MODE} {mode!r} is not one of {', '.join(AUTH_MODES)}")
    secteur = attributes[ATTR_SECTEUR][0].text_value
    if not _SECTEUR.match(secteur):
        raise _fail(f"{ATTR_SECTEUR} {secteur!r} must be <code>^1.2.250.1.71.4.2.4 (TRE_R02)")
    if attributes[ATTR_RESSOURCE_URN][0].text_value != "urn:dmp":
        raise _fail(f"{ATTR_RESSOURCE_URN} must be urn:dmp")
    for value in attributes[ATTR_ROLE]:
        role = value.element.find(qname(HL7, "Role"))
        if role is None or not role.get("code") or not role.get("codeSystem"):
            raise _fail(f"each {ATTR_ROLE} value must be a <Role code codeSystem> (urn:hl7-org:v3, CE)")
    if len(attributes[ATTR_ROLE]) > 4:
        raise _fail(f"{ATTR_ROLE} has more than 4 values")
    purpose = attributes[ATTR_PURPOSE][0].element.find(qname(HL7, "PurposeOfUse"))
    if purpose is None or not purpose.get("code"):
        raise _fail(f"{ATTR_PURPOSE} must hold a <PurposeOfUse code=...> (urn:hl7-org:v3, CE)")


def _has_value(values: list[_Value]) -> bool:
    return any(v.text_value or len(v.element) for v in values)


def _check_structure(structure: str, certificate: x509.Certificate, which: str) -> None:
    held = structure_id(certificate)
    if held != structure:
        raise Rejected(
            AUTHENTICATION_ERROR,
            f"Erreur d'authentification de la personne morale: {ATTR_STRUCTURE} {structure!r} "
            f"is not the structure of the {which} (OU={held!r})",
        )
