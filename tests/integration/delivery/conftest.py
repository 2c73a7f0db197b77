
import pytest

from dmp_gateway.dmp.memory import InMemoryDmp
from dmp_gateway.store.db import create_database
from gateway_harness import start_gateway


@pytest.fixture(scope="module")
def memory_dmp():
    return InMemoryDmp()


@pytest.fixture(scope="module")
def delivering_gateway(pg_admin_url, tmp_path_factory, memory_dmp):
    """A gateway whose in-process worker delivers to an in-memory DMP, with fast retries."""
    gw, server = start_gateway(create_database(pg_admin_url, "gwd"), tmp_path_factory.mktemp("gwd"), dmp=memory_dmp,
                               retry_base_delay_seconds=0.05, retry_max_delay_seconds=0.2, retry_max_attempts=4,
                               worker_polling_seconds=0.05, pdfa_policy="accept")
    yield gw
    server.stop()


@pytest.fixture
def dws(delivering_gateway):
    return delivering_gateway.new_workspace()
