"""Which certificates the simulator trusts, and what a certificate says about the structure that holds it.

IGC Santé structure certificates (ORG_AUTH_CLI, ORG_SIGN) carry the structure id in the subject OU
(dmp-interfaces.md §8); the VIHF Issuer is the ORG_SIGN subject DN (§7). Chains are checked up to an anchor
of the configured CA bundle (the dev CA from `dmp-gateway dev-certs`), with validity at the injected time.
"""

from __future__ import annotations

import base64
import binascii
import functools
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import NameOID


class UntrustedCertificate(Exception):
    """The certificate does not chain to a trusted anchor, or is outside its validity period."""


class TrustStore:
    """CA certificates (anchors and intermediates) that may issue signing and TLS client certificates."""

    def __init__(self, certificates: list[x509.Certificate]) -> None:
        #: Chains already verified: certificate → (latest not-before, earliest not-after) of the chain.
        self._verified: dict[x509.Certificate, tuple[datetime, datetime]] = {}
        self._by_subject: dict[bytes, list[x509.Certificate]] = {}
        for cert in certificates:
            self._by_subject.setdefault(cert.subject.public_bytes(), []).append(cert)

    @classmethod
    def from_pem_files(cls, *paths: Path) -> "TrustStore":
        certs: list[x509.Certificate] = []
        for path in paths:
            certs.extend(x509.load_pem_x509_certificates(Path(path).read_bytes()))
        return cls(certs)

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_subject.values())

    def verify(self, cert: x509.Certificate, at: datetime) -> None:
        """Raise UntrustedCertificate unless `cert` chains to an anchor and every link is valid at `at`.

        The same few certificates sign every request, so a verified chain is remembered with its validity
        window (the signature checks of the chain are the costly part)."""
        window = self._verified.get(cert)
        if window is not None and window[0] <= at <= window[1]:
            return
        chain = self._chain(cert, at)
        if len(self._verified) < 1024:
            self._verified[cert] = (max(c.not_valid_before_utc for c in chain), min(c.not_valid_after_utc for c in chain))

    def _chain(self, cert: x509.Certificate, at: datetime) -> list[x509.Certificate]:
        chain, current = [cert], cert
        for _ in range(8):
            _check_validity(current, at)
            issuers = self._by_subject.get(current.issuer.public_bytes(), [])
            issuer = next((c for c in issuers if _issued_by(current, c)), None)
            if issuer is None:
                raise UntrustedCertificate(
                    f"certificate {subject_dn(current)} is not issued by a trusted CA (issuer {current.issuer.rfc4514_string()})"
                )
            if issuer == current or issuer.subject == issuer.issuer:
                _check_validity(issuer, at)
                return chain if issuer == current else [*chain, issuer]
            chain.append(issuer)
            current = issuer
        raise UntrustedCertificate("certificate chain too long")


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _check_validity(cert: x509.Certificate, at: datetime) -> None:
    if at < cert.not_valid_before_utc:
        raise UntrustedCertificate(f"certificate {subject_dn(cert)} is not valid before {cert.not_valid_before_utc:%Y-%m-%d}")
    if at > cert.not_valid_after_utc:
        raise UntrustedCertificate(f"certificate {subject_dn(cert)} expired on {cert.not_valid_after_utc:%Y-%m-%d}")


@functools.lru_cache(maxsize=256)
def load_der_or_base64(text: str | bytes) -> x509.Certificate:
    """A certificate from ds:X509Certificate text (base64 DER); ValueError when unreadable (cached: the
    same certificates come back on every request)."""
    try:
        der = base64.b64decode(text, validate=False)
        return x509.load_der_x509_certificate(der)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the X509Certificate is not a base64 DER certificate") from exc


def structure_id(cert: x509.Certificate) -> str | None:
    """The structure id held in the subject OU (the first OU when there are several)."""
    values = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    return str(values[0].value) if values else None


def subject_dn(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()


def parse_dn(text: str) -> list[tuple[str, str]]:
    """`CN=a, OU=b, O=c\\, d` → sorted (attribute, value) pairs; escaped commas and spaces handled."""
    pairs: list[tuple[str, str]] = []
    current, escaped = [], False
    items: list[str] = []
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in ",+":
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            continue
        pairs.append((_ALIASES.get(key.strip().upper(), key.strip().upper()), value.strip()))
    return sorted(pairs)


_ALIASES = {"S": "ST", "EMAILADDRESS": "E", "1.2.840.113549.1.9.1": "E", "2.5.4.5": "SERIALNUMBER"}


def same_dn(text: str, name: x509.Name) -> bool:
    """Whether a DN written as text names the same subject as `name`, whatever the order and spacing."""
    return _dn_key(text) == _name_key(name)


@functools.lru_cache(maxsize=256)
def _dn_key(text: str) -> tuple[tuple[str, str], ...]:
    """parse_dn, remembered: every VIHF of a signer names the same Issuer and certificate subject."""
    return tuple(parse_dn(text))


@functools.lru_cache(maxsize=256)
def _name_key(name: x509.Name) -> tuple[tuple[str, str], ...]:
    return _dn_key(name.rfc4514_string())
