"""`dmp-gateway` as an operator runs it: exit codes, what goes to stdout, clear errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import psycopg
import pytest
from lxml import etree

from dmp_gateway.auth.clients import ClientRegistry
from dmp_gateway.auth.setup import bootstrap_auth, clients_path
from dmp_gateway.config import Settings
from dmp_gateway.store.db import create_database

#: A test NIR with a valid key (the seed's patient).
SEED_NIR = "279035121518989"


def assert_clean_failure(run: subprocess.CompletedProcess, code: int, *words: str) -> None:
    """Exit `code`, a message naming `words` on stderr, nothing on stdout, no Python traceback."""
    assert run.returncode == code, (run.returncode, run.stderr)
    assert "Traceback" not in run.stderr
    assert run.stdout == ""
    for word in words:
        assert word in run.stderr, run.stderr


# --- config / migrate --------------------------------------------------------------------------------

def test_config_prints_json_with_the_database_password_masked(cli, data_dir):
    run = cli("config", env={"DMPGW_DATABASE_URL": "postgresql://alice:s3cr3t-pw@db.example:5432/dmp",
                             "DMPGW_PORT": "8123"})
    assert run.returncode == 0, run.stderr
    config = json.loads(run.stdout)
    assert config["database_url"] == "postgresql://alice:***@db.example:5432/dmp"
    assert config["port"] == 8123
    assert config["data_dir"] == str(data_dir.path)
    assert "s3cr3t-pw" not in run.stdout + run.stderr


def test_config_rejects_an_unknown_log_level_by_name(cli):
    assert_clean_failure(cli("config", env={"DMPGW_LOG_LEVEL": "chatty"}), 2, "DMPGW_LOG_LEVEL", "chatty")


def test_migrate_creates_the_schema_of_an_empty_database_and_is_idempotent(cli, data_dir):
    env = {"DMPGW_DATABASE_URL": create_database(data_dir.database_url, "acc")}

    first, again = cli("migrate", env=env), cli("migrate", env=env)

    assert first.returncode == 0 and again.returncode == 0, first.stderr + again.stderr
    revision = first.stderr.strip().splitlines()[-1]
    assert revision.startswith("database at revision ")
    assert again.stderr.strip().splitlines()[-1] == revision
    with psycopg.connect(env["DMPGW_DATABASE_URL"]) as conn:
        tables = {row[0] for row in conn.execute("select tablename from pg_tables where schemaname = 'public'")}
    assert {"fhir_resource", "delivery", "procrastinate_jobs"} <= tables


# --- workspace -----------------------------------------------------------------------------------------

def test_workspace_create_json_prints_exactly_one_line_with_its_ids(cli):
    run = cli("workspace", "create", "--name", "CH Saint-Éloi & Co", "--finess", "123456789", "--json")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 1
    created = json.loads(lines[0])
    assert set(created) == {"workspace", "organization", "dmp_device"}
    assert created["organization"] == f"Organization/{created['workspace']}"
    assert created["dmp_device"].startswith("Device/")


@pytest.mark.parametrize(("option", "value", "words"), [
    ("--finess", "12345678", ("FINESS", "9 digits")),
    ("--finess", "12345678A", ("FINESS", "9 digits")),
    ("--siret", "123", ("SIRET", "14 digits")),
])
def test_workspace_create_rejects_a_bad_number_clearly(cli, option, value, words):
    assert_clean_failure(cli("workspace", "create", "--name", "CH X", option, value, "--json"), 2, *words)


def test_workspace_list_shows_created_workspaces(cli):
    name = f"CH Liste {uuid.uuid4().hex[:6]}"
    created = json.loads(cli("workspace", "create", "--name", name, "--json").stdout)

    as_json = cli("workspace", "list", "--json")
    as_table = cli("workspace", "list")

    assert as_json.returncode == 0 and as_table.returncode == 0
    rows = {row["workspace"]: row for row in map(json.loads, as_json.stdout.splitlines())}
    assert rows[created["workspace"]]["name"] == name
    assert rows[created["workspace"]]["dmp_device"] == created["dmp_device"]
    assert name in as_table.stdout


# --- token / client ------------------------------------------------------------------------------------

async def test_token_prints_a_jwt_the_embedded_issuer_verifies(cli, data_dir):
    run = cli("token", "--workspace", "ws-42", "--identity", "Practitioner/1", "--identity", "Practitioner/2",
              "--scopes", "PATIENT_CREATE BINARY_CREATE")
    assert run.returncode == 0, run.stderr
    token = run.stdout.strip().splitlines()[-1]
    assert token.count(".") == 2

    principal = await bootstrap_auth(Settings(data_dir=data_dir.path)).verifier.verify(token)

    assert principal.workspace_id == "ws-42"
    assert principal.identities == ("Practitioner/1", "Practitioner/2")
    assert principal.scopes == {"PATIENT_CREATE", "BINARY_CREATE"}


def test_client_add_prints_a_secret_that_authenticates_and_is_stored_hashed(cli, data_dir):
    client_id = f"app-{uuid.uuid4().hex[:8]}"
    run = cli("client", "add", "--client-id", client_id, "--workspace", "ws-7", "--scopes", "PATIENT_CREATE",
              "--database-reference", "db-ref-7")
    assert run.returncode == 0, run.stderr
    printed = json.loads(run.stdout)
    assert printed["client_id"] == client_id

    path = clients_path(Settings(data_dir=data_dir.path))
    client = ClientRegistry.load(path, env={}).authenticate(client_id, printed["client_secret"])

    assert client is not None and client.workspace_id == "ws-7" and client.scopes == ("PATIENT_CREATE",)
    assert printed["client_secret"] not in path.read_text()


def test_client_add_refuses_a_duplicate_client_id_clearly(cli):
    client_id = f"dup-{uuid.uuid4().hex[:8]}"
    assert cli("client", "add", "--client-id", client_id, "--workspace", "w", "--scopes", "A").returncode == 0
    assert_clean_failure(cli("client", "add", "--client-id", client_id, "--workspace", "w", "--scopes", "A"),
                         2, client_id, "already exists")


# --- cda -----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def gateway(data_dir):
    """The API on loopback against the commands' database, to create resources the way clients do."""
    from gateway_harness import start_gateway

    gw, server = start_gateway(data_dir.database_url, data_dir.path, serve_runs_worker=False)
    yield gw
    server.stop()


def test_cda_prints_the_document_of_a_request_and_it_passes_the_ans_kit(cli, gateway, shared_dir, tmp_path):
    from fhir_payloads import post_seed_resources

    kit = shared_dir / "ans-cda-kit" / "validate_cda.py"
    ws = gateway.new_workspace()
    with gateway.client(ws.token) as c:
        _, _, _, cr = post_seed_resources(c, ws, nir=SEED_NIR)
    assert cr.status_code == 201, cr.text

    run = cli("cda", f"CommunicationRequest/{cr.json()['id']}", text=False)

    assert run.returncode == 0, run.stderr.decode()
    document = etree.fromstring(run.stdout)
    assert etree.QName(document).localname == "ClinicalDocument"
    assert document.xpath("//*[local-name()='patientRole']/*[local-name()='id']/@extension").count(SEED_NIR) == 1
    path = tmp_path / "cda.xml"
    path.write_bytes(run.stdout)
    check = subprocess.run([sys.executable, str(kit), str(path), "--json"], capture_output=True, timeout=120,
                           check=False)
    assert check.returncode == 0, check.stdout.decode()[:3000]
    assert json.loads(check.stdout)["files"][0]["valid"] is True


def test_cda_of_an_unknown_request_is_a_clear_error(cli):
    unknown = str(uuid.uuid4())
    assert_clean_failure(cli("cda", f"CommunicationRequest/{unknown}"), 1, unknown, "not known")
