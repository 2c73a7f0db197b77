"""`dmp-gateway dev-certs DIR`: a test PKI so the embedded setup runs mTLS and signatures for real.

Writes, in DIR (names as in `dmp.certs.CertPaths`; docs/dmp-connector.md):

    ca.pem / ca.key                     test CA (self-signed, 10 years)
    server.pem / server.key             TLS server certificate for the simulator: SAN localhost, 127.0.0.1, ::1
    org-auth-cli.pem / org-auth-cli.key ORG_AUTH_CLI organisation certificate (clientAuth)
    org-sign.pem / org-sign.key         ORG_SIGN organisation certificate (digitalSignature, nonRepudiation)

Both organisation certificates carry the structure id in the subject OU, as the IGC Santé ones do
(dmp-interfaces.md §8), so `Identifiant_Structure` in the VIHF matches them. Keys are RSA 2048,
unencrypted PKCS#8, mode 0600. For development and tests only: never use them against a real DMP.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from dmp_gateway.dmp.certs import CertPaths
from dmp_gateway.dmp.errors import Configuration

#: Struct_IdNat of the ANS kit example's organisation (prefix 1 = FINESS 120459876).
DEFAULT_STRUCTURE_ID = "1120459876"
DEFAULT_ORGANISATION = "DMP-GATEWAY DEV"


def _name(common_name: str, *, organisation: str, structure_id: str | None) -> x509.Name:
    attributes = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
        x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "Paris (75)"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
    ]
    if structure_id:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, structure_id))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _builder(subject: x509.Name, issuer: x509.Name, key: rsa.RSAPrivateKey, days: int) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )


def _leaf(
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    ca_cert: x509.Certificate,
    ca_key: rsa.RSAPrivateKey,
    *,
    usage: x509.KeyUsage,
    eku: list[x509.ObjectIdentifier],
    san: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    builder = (
        _builder(subject, ca_cert.subject, key, days=825)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage(eku), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def _usage(*, digital_signature: bool, key_encipherment: bool = False, non_repudiation: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=non_repudiation,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _write(path: Path, data: bytes, *, private: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = os.open(path, flags, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def generate(
    directory: Path,
    structure_id: str = DEFAULT_STRUCTURE_ID,
    overwrite: bool = False,
    *,
    organisation: str = DEFAULT_ORGANISATION,
) -> CertPaths:
    """Write a fresh test CA, simulator server certificate and ORG_AUTH_CLI / ORG_SIGN certificates.

    Raises `Configuration` when a file already exists and `overwrite` is False.
    """
    paths = CertPaths.in_dir(Path(directory))
    existing = [p.name for p in paths.all if p.exists()]
    if existing and not overwrite:
        raise Configuration(f"{paths.directory} already holds {', '.join(existing)} (pass --overwrite to replace them)")
    ca_key = _key()
    ca_name = _name("DMP-GATEWAY DEV CA", organisation=organisation, structure_id=None)
    ca_cert = (
        _builder(ca_name, ca_name, ca_key, days=3650)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    server_key, auth_key, sign_key = _key(), _key(), _key()
    server_cert = _leaf(
        _name("localhost", organisation=organisation, structure_id=None), server_key, ca_cert, ca_key,
        usage=_usage(digital_signature=True, key_encipherment=True),
        eku=[ExtendedKeyUsageOID.SERVER_AUTH],
        san=[
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1")),
        ],
    )
    auth_cert = _leaf(
        _name(f"{organisation} ORG_AUTH_CLI", organisation=organisation, structure_id=structure_id),
        auth_key, ca_cert, ca_key,
        usage=_usage(digital_signature=True, key_encipherment=True),
        eku=[ExtendedKeyUsageOID.CLIENT_AUTH],
    )
    sign_cert = _leaf(
        _name(f"{organisation} ORG_SIGN", organisation=organisation, structure_id=structure_id),
        sign_key, ca_cert, ca_key,
        usage=_usage(digital_signature=True, non_repudiation=True),
        eku=[ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.EMAIL_PROTECTION],
    )
    for cert_path, key_path, cert, key in (
        (paths.ca_cert, paths.ca_key, ca_cert, ca_key),
        (paths.server_cert, paths.server_key, server_cert, server_key),
        (paths.auth_cert, paths.auth_key, auth_cert, auth_key),
        (paths.sign_cert, paths.sign_key, sign_cert, sign_key),
    ):
        _write(key_path, _pem_key(key), private=True)
        _write(cert_path, _pem_cert(cert), private=False)
    return paths


def ensure(directory: Path, structure_id: str = DEFAULT_STRUCTURE_ID) -> CertPaths:
    """Fill an empty (or missing) certificate directory; leave a complete one alone.

    The embedded default calls this on first start. A directory holding only some of the files is
    an operator's half-finished set-up: `Configuration` is raised rather than overwriting it.
    """
    paths = CertPaths.in_dir(Path(directory))
    present = [p for p in paths.all if p.exists()]
    if not present:
        return generate(paths.directory, structure_id)
    needed = (paths.ca_cert, paths.auth_cert, paths.auth_key, paths.sign_cert, paths.sign_key)
    missing = [p.name for p in needed if not p.exists()]
    if missing:
        raise Configuration(f"{paths.directory} lacks {', '.join(missing)}", code="CERTIFICATE_ERROR")
    return paths


__all__ = ["DEFAULT_STRUCTURE_ID", "ensure", "generate"]
