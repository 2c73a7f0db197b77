"""Where the DMP certificates live, and loading them: ORG_AUTH_CLI (mTLS), ORG_SIGN (VIHF, XAdES), CA.

`DMPGW_CERTS_DIR` (default `$DMPGW_DATA_DIR/certs`) holds PEM files with these names:

    ca.pem              CA bundle trusted for the DMP server certificate (and, by the simulator,
                        for client certificates and signatures)
    org-auth-cli.pem    ORG_AUTH_CLI certificate (TLS client authentication), chain may follow
    org-auth-cli.key    its private key (PKCS#8 PEM, unencrypted)
    org-sign.pem        ORG_SIGN certificate (VIHF and XAdES signatures); its subject DN is the VIHF Issuer
    org-sign.key        its private key
    server.pem          the simulator's TLS server certificate (dev only)
    server.key          its private key
    ca.key              the dev CA's private key (dev only, written by `dmp-gateway dev-certs`)

Sources: dmp-interfaces.md §8 (IGC Santé products ORG_AUTH_CLI / ORG_SIGN; structure id in the subject OU).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from dmp_gateway.dmp.errors import Configuration


@dataclass(frozen=True, slots=True)
class CertPaths:
    """The certificate files of one `DMPGW_CERTS_DIR` (see the module docstring for each role)."""

    directory: Path
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    auth_cert: Path
    auth_key: Path
    sign_cert: Path
    sign_key: Path

    @classmethod
    def in_dir(cls, directory: Path) -> "CertPaths":
        d = Path(directory)
        return cls(
            directory=d,
            ca_cert=d / "ca.pem",
            ca_key=d / "ca.key",
            server_cert=d / "server.pem",
            server_key=d / "server.key",
            auth_cert=d / "org-auth-cli.pem",
            auth_key=d / "org-auth-cli.key",
            sign_cert=d / "org-sign.pem",
            sign_key=d / "org-sign.key",
        )

    @property
    def all(self) -> tuple[Path, ...]:
        return (
            self.ca_cert,
            self.ca_key,
            self.server_cert,
            self.server_key,
            self.auth_cert,
            self.auth_key,
            self.sign_cert,
            self.sign_key,
        )


def subject_dn(certificate: x509.Certificate) -> str:
    """The subject DN most-specific first, `CN=…, OU=…, O=…, ST=…, C=FR`, as the VIHF Issuer shows it."""
    return ", ".join(rdn.rfc4514_string() for rdn in reversed(certificate.subject.rdns))


def structure_id_of(certificate: x509.Certificate) -> str | None:
    """The structure id (Struct_IdNat) carried in the subject OU (dmp-interfaces.md §8)."""
    values = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    return str(values[0].value) if values else None


@dataclass(frozen=True)
class SigningIdentity:
    """The ORG_SIGN key and certificate (plus any chain) that sign the VIHF and the XAdES."""

    key: rsa.RSAPrivateKey
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()

    @property
    def issuer_dn(self) -> str:
        """The VIHF `saml2:Issuer`: the signing certificate's subject DN."""
        return subject_dn(self.certificate)

    @property
    def structure_id(self) -> str | None:
        return structure_id_of(self.certificate)

    @property
    def certificate_der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def certificates_pem(self) -> list[str]:
        """Leaf first, then the chain, as signxml's `cert=` wants them."""
        return [
            c.public_bytes(serialization.Encoding.PEM).decode("ascii")
            for c in (self.certificate, *self.chain)
        ]


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise Configuration(f"cannot read {what} at {path}: {exc.strerror}", code="CERTIFICATE_ERROR") from exc


def load_signing_identity(cert_path: Path, key_path: Path) -> SigningIdentity:
    """Load an RSA key and its certificate chain from PEM; raises `Configuration` on any problem."""
    try:
        certificates = x509.load_pem_x509_certificates(_read(cert_path, "the ORG_SIGN certificate"))
        key = serialization.load_pem_private_key(_read(key_path, "the ORG_SIGN key"), password=None)
    except ValueError as exc:
        raise Configuration(f"unreadable ORG_SIGN PEM ({cert_path.name}, {key_path.name}): {exc}",
                            code="CERTIFICATE_ERROR") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise Configuration("the ORG_SIGN key must be RSA (rsa-sha256 / rsa-sha1)", code="CERTIFICATE_ERROR")
    if certificates[0].public_key().public_numbers() != key.public_key().public_numbers():
        raise Configuration("the ORG_SIGN key does not match its certificate", code="CERTIFICATE_ERROR")
    return SigningIdentity(key=key, certificate=certificates[0], chain=tuple(certificates[1:]))


def client_ssl_context(paths: CertPaths) -> ssl.SSLContext:
    """TLS ≥ 1.2 context presenting ORG_AUTH_CLI and trusting `ca.pem` (dmp-interfaces.md §2.2, §8)."""
    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(paths.ca_cert))
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(paths.auth_cert), str(paths.auth_key))
    except (OSError, ssl.SSLError) as exc:
        raise Configuration(f"cannot set up TLS from {paths.directory}: {exc}", code="CERTIFICATE_ERROR") from exc
    return context


__all__ = [
    "CertPaths",
    "SigningIdentity",
    "client_ssl_context",
    "load_signing_identity",
    "structure_id_of",
    "subject_dn",
]
