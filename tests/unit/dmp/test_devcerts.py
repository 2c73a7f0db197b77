"""`dmp-gateway dev-certs`: a test PKI whose certificates do what the DMP set-up needs."""

from __future__ import annotations

import ipaddress

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from dmp_gateway.dmp.certs import CertPaths, client_ssl_context, load_signing_identity, structure_id_of
from dmp_gateway.dmp.devcerts import ensure, generate
from dmp_gateway.dmp.errors import Configuration


def _cert(path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_generated_files_and_their_roles(tmp_path):
    paths = generate(tmp_path, structure_id="499700367909006")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths.all)
    ca, server, auth, sign = (_cert(p) for p in (paths.ca_cert, paths.server_cert, paths.auth_cert, paths.sign_cert))
    for leaf in (server, auth, sign):
        leaf.verify_directly_issued_by(ca)
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert ipaddress.ip_address("127.0.0.1") in san.get_values_for_type(x509.IPAddress)
    assert structure_id_of(auth) == structure_id_of(sign) == "499700367909006"
    eku = auth.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CLIENT_AUTH in eku
    assert oct(paths.sign_key.stat().st_mode & 0o777) == "0o600"
    assert load_signing_identity(paths.sign_cert, paths.sign_key).structure_id == "499700367909006"
    client_ssl_context(paths)


def test_existing_files_are_not_overwritten_unless_asked(tmp_path):
    generate(tmp_path)
    before = (tmp_path / "ca.pem").read_bytes()
    with pytest.raises(Configuration):
        generate(tmp_path)
    generate(tmp_path, overwrite=True)
    assert (tmp_path / "ca.pem").read_bytes() != before


def test_ensure_fills_an_empty_dir_and_keeps_a_full_one(tmp_path):
    paths = ensure(tmp_path / "certs")
    first = paths.sign_cert.read_bytes()
    assert ensure(tmp_path / "certs").sign_cert.read_bytes() == first


def test_ensure_refuses_a_half_finished_dir(tmp_path):
    (tmp_path / "ca.pem").write_text("x")
    with pytest.raises(Configuration, match="org-auth-cli.pem"):
        ensure(tmp_path)


def test_missing_or_broken_signing_material_is_configuration(tmp_path):
    paths = CertPaths.in_dir(tmp_path)
    with pytest.raises(Configuration):
        load_signing_identity(paths.sign_cert, paths.sign_key)
    other = generate(tmp_path / "a")
    with pytest.raises(Configuration, match="does not match"):
        load_signing_identity(other.sign_cert, other.auth_key)
