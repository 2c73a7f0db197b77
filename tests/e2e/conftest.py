import pytest

from e2e_stack import start_e2e_stack  # tests/ is on sys.path (rootdir conftest)


@pytest.fixture(scope="module")
def stack():
    """Simulator (mTLS), gateway and worker as real processes on one temporary data dir, for this module."""
    running = start_e2e_stack()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def ws(stack):
    return stack.provision()


@pytest.fixture
def fhir(stack, ws):
    with stack.client(ws.token) as client:
        yield client


@pytest.fixture
def healthy_dmp(stack):
    """The test injects faults; whatever happens, the next test gets a healthy simulator."""
    yield stack
    stack.clear_faults()
