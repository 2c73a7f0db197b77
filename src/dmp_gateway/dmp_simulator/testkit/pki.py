"""A throw-away PKI shaped like IGC Santé test certificates: a CA, ORG_SIGN / ORG_AUTH_CLI certificates
whose subject OU is the structure id (dmp-interfaces.md §8), and a loopback server certificate.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: Structure id of the test structure (the ANS sample's).
STRUCTURE_ID = "499700367909006"
_EPOCH = datetime(2020, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Identity:
    """A certificate and its private key."""

    certificate: x509.Certificate
    key: rsa.RSAPrivateKey

    @property
    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def write(self, directory: Path, name: str) -> tuple[Path, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        cert, key = directory / f"{name}.pem", directory / f"{name}.key"
        cert.write_bytes(self.cert_pem)
        key.write_bytes(self.key_pem)
        return cert, key


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(cn: str, ou: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"), x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "Paris (75)")]
    attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, "CENTRE HOSPITALIER DE TEST"))
    if ou is not None:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attributes)


def make_ca(name: str = "DMP-SIM TEST CA", *, not_before: datetime = _EPOCH, days: int = 36500) -> Identity:
    key = _key()
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"), x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(not_before)
        .not_valid_after(not_before + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Identity(cert, key)


def issue(
    ca: Identity, cn: str, *, ou: str | None = STRUCTURE_ID, server: bool = False, client: bool = True,
    not_before: datetime = _EPOCH, days: int = 36500, key: rsa.RSAPrivateKey | None = None,
) -> Identity:
    """A leaf certificate issued by `ca` (subject OU = structure id unless `ou=None`)."""
    key = key or _key()
    usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + ([ExtendedKeyUsageOID.CLIENT_AUTH] if client else [])
    builder = (
        x509.CertificateBuilder().subject_name(_name(cn, ou)).issuer_name(ca.certificate.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_before + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages or [ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    return Identity(builder.sign(ca.key, hashes.SHA256()), key)


@dataclass(frozen=True)
class TestPki:
    """Everything a simulator test needs: CA, signing and TLS client identities, a server certificate."""

    __test__ = False  # not a pytest class

    ca: Identity
    sign: Identity
    auth: Identity
    server: Identity

    @classmethod
    def create(cls, structure_id: str = STRUCTURE_ID) -> "TestPki":
        ca = make_ca()
        return cls(
            ca=ca,
            sign=issue(ca, "DMPGW ORG_SIGN", ou=structure_id),
            auth=issue(ca, "DMPGW ORG_AUTH_CLI", ou=structure_id),
            server=issue(ca, "localhost", ou=None, server=True, client=False),
        )
