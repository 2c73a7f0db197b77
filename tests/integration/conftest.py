import pytest

from gateway_harness import start_gateway  # noqa: E402  (tests/ is on sys.path via rootdir conftest)


@pytest.fixture(scope="session")
def gateway(pg_admin_url, tmp_path_factory):
    """One real gateway on loopback for the session, on a database of its own."""
    import uuid

    import psycopg

    from dmp_gateway.store.db import with_database

    name = f"gw_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    gw, server = start_gateway(with_database(pg_admin_url, name), tmp_path_factory.mktemp("gw"),
                               binary_max_bytes=2 * 1024 * 1024, serve_runs_worker=False)
    yield gw
    server.stop()


@pytest.fixture
def ws(gateway):
    """A fresh workspace with a practitioner and a user token that may send as them."""
    return gateway.new_workspace()
