import pytest

from gateway_harness import start_gateway  # noqa: E402  (tests/ is on sys.path via rootdir conftest)


@pytest.fixture(scope="session")
def gateway(pg_admin_url, tmp_path_factory):
    """One real gateway on loopback for the session, on a database of its own."""
    from dmp_gateway.store.db import create_database

    gw, server = start_gateway(create_database(pg_admin_url, "gw"), tmp_path_factory.mktemp("gw"),
                               binary_max_bytes=2 * 1024 * 1024, serve_runs_worker=False)
    yield gw
    server.stop()


@pytest.fixture
def ws(gateway):
    """A fresh workspace with a practitioner and a user token that may send as them."""
    return gateway.new_workspace()


@pytest.fixture
async def resource_store(database_url):
    """The resource store on a fresh, migrated database (a small pool of its own)."""
    from dmp_gateway.store.db import open_pool
    from dmp_gateway.store.migrate import migrate
    from dmp_gateway.store.resources import PostgresResourceStore

    migrate(database_url)
    pool = await open_pool(database_url, min_size=1, max_size=4)
    yield PostgresResourceStore(pool)
    await pool.close()
