"""Clients file, DMPGW_CLIENTS, hashed secrets, and the CLI helpers that write them."""

import json

import pytest

from dmp_gateway.auth.cli_support import add_client, issue_dev_token
from dmp_gateway.auth.clients import (
    CLIENTS_ENV,
    ClientConfig,
    ClientRegistry,
    ClientsFileError,
    hash_secret,
    verify_secret,
)
from dmp_gateway.auth.setup import bootstrap_auth
from dmp_gateway.config import Settings


@pytest.fixture(scope="module")
def secret_hash() -> str:
    return hash_secret("s3cret")  # scrypt is slow on purpose: hash once per module


def entry(hashed, /, **changes):
    base = {"client_id": "ehr", "secret_hash": hashed, "workspace_id": "42", "scopes": "A B"}
    return {k: v for k, v in {**base, **changes}.items() if v is not None}


def test_secret_hash_round_trip(secret_hash):
    assert secret_hash.startswith("scrypt$") and "s3cret" not in secret_hash
    assert verify_secret("s3cret", secret_hash)
    assert not verify_secret("s3cret ", secret_hash)
    assert hash_secret("s3cret") != secret_hash  # salted


def test_yaml_file_is_loaded(tmp_path, secret_hash):
    path = tmp_path / "clients.yaml"
    path.write_text(
        f"""
- client_id: ehr
  secret_hash: "{secret_hash}"
  workspace_id: Organization/42
  scopes: [PATIENT_CREATE, BINARY_CREATE]
  database_reference: db-1
  organization: "77"
"""
    )
    client = ClientRegistry.load(path, env={}).get("ehr")
    assert client == ClientConfig(
        client_id="ehr", secret_hash=secret_hash, workspace_id="42", scopes=("PATIENT_CREATE", "BINARY_CREATE"),
        database_reference="db-1", organization="Organization/77",
    )
    assert client.requesters == ("Organization/77",)


def test_json_file_with_clients_key_and_env_are_merged(tmp_path, secret_hash):
    path = tmp_path / "clients.json"
    path.write_text(json.dumps({"clients": [entry(secret_hash, workspace_id=42)]}))
    env = {CLIENTS_ENV: json.dumps([entry(secret_hash, client_id="batch")])}
    registry = ClientRegistry.load(path, env=env)
    assert sorted(c.client_id for c in registry) == ["batch", "ehr"]
    assert registry.get("ehr").workspace_id == "42"
    assert registry.get("ehr").scopes == ("A", "B")
    assert registry.get("ehr").requesters == ("Organization/42",)


def test_missing_file_and_empty_env_mean_no_clients(tmp_path):
    assert len(ClientRegistry.load(tmp_path / "absent.yaml", env={})) == 0


@pytest.mark.parametrize(
    "changes,words",
    [
        ({"workspace_id": None}, ["entry 0.workspace_id", "Field required"]),
        ({"workspace_id": "Practitioner/1"}, ["workspace_id", "Organization"]),
        ({"secret_hash": "plain-secret"}, ["secret_hash", "hash-secret"]),
        ({"secret_hash": "scrypt$!!$!!"}, ["secret_hash", "base64url"]),
        ({"client_id": "a:b"}, ["client_id", "':'"]),
        ({"organization": "Device/1"}, ["organization"]),
        ({"colour": "blue"}, ["colour"]),
    ],
)
def test_bad_entries_name_source_entry_and_field(secret_hash, changes, words):
    with pytest.raises(ClientsFileError) as caught:
        ClientRegistry.load(None, env={CLIENTS_ENV: json.dumps([entry(secret_hash, **changes)])})
    message = str(caught.value)
    assert message.startswith(CLIENTS_ENV)
    for word in words:
        assert word in message


def test_duplicate_client_ids_are_refused(secret_hash):
    with pytest.raises(ClientsFileError, match="'ehr' is defined twice"):
        ClientRegistry.load(None, env={CLIENTS_ENV: json.dumps([entry(secret_hash), entry(secret_hash)])})


def test_unparsable_file_is_refused_with_its_name(tmp_path):
    path = tmp_path / "clients.yaml"
    path.write_text("- [unclosed")
    with pytest.raises(ClientsFileError, match="clients.yaml"):
        ClientRegistry.load(path, env={})


def test_authenticate(secret_hash):
    registry = ClientRegistry([ClientConfig(client_id="ehr", secret_hash=secret_hash, workspace_id="42")])
    assert registry.authenticate("ehr", "s3cret").client_id == "ehr"
    assert registry.authenticate("ehr", "wrong") is None
    assert registry.authenticate("nobody", "s3cret") is None


@pytest.mark.parametrize("name", ["clients.yaml", "clients.json"])
def test_add_client_writes_a_file_that_loads_back(tmp_path, name):
    settings = Settings(data_dir=tmp_path, clients_file=tmp_path / name)
    client, secret = add_client(settings, "ehr", "Organization/42", "A B", database_reference="db-1")
    other, given = add_client(settings, "batch", "7", ["C"], secret="given-secret")
    assert given == "given-secret" and len(secret) >= 32
    registry = ClientRegistry.load(settings.clients_file, env={})
    assert registry.get("ehr") == client and registry.get("batch") == other
    assert registry.get("ehr").database_reference == "db-1"
    assert secret not in settings.clients_file.read_text()
    with pytest.raises(ClientsFileError, match="already exists"):
        add_client(settings, "ehr", "42", "A")


async def test_dev_token_verifies_with_the_services_of_the_same_settings(tmp_path):
    settings = Settings(data_dir=tmp_path)
    token = issue_dev_token(settings, "42", ["Practitioner/1", "Practitioner/2"], "PATIENT_CREATE BINARY_CREATE")
    principal = await bootstrap_auth(settings).verifier.verify(token)
    assert principal.workspace_id == "42"
    assert principal.identities == ("Practitioner/1", "Practitioner/2")
    assert principal.scopes == {"PATIENT_CREATE", "BINARY_CREATE"}


def test_dev_token_is_refused_when_an_external_provider_is_configured(tmp_path):
    settings = Settings(data_dir=tmp_path, oidc_jwks_url="https://idp.example/jwks", oidc_issuer="https://idp.example")
    with pytest.raises(ValueError, match="DMPGW_OIDC_JWKS_URL"):
        issue_dev_token(settings, "42", [], "A")


def test_external_provider_needs_an_issuer(tmp_path):
    with pytest.raises(ValueError, match="DMPGW_OIDC_ISSUER"):
        bootstrap_auth(Settings(data_dir=tmp_path, oidc_jwks_url="https://idp.example/jwks"))
