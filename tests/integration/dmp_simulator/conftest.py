"""Fixtures for simulator tests: a test PKI, the ANS CDA template, a simulator on a session database,
an in-process httpx client, and `send()` that posts a request and reads the answer."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from dmp_gateway.dmp import namespaces as ns
from dmp_gateway.dmp_simulator import SimulatorConfig, create_app
from dmp_gateway.dmp_simulator.testkit.answers import Answer, read_answer
from dmp_gateway.dmp_simulator.testkit.messages import NOW
from dmp_gateway.dmp_simulator.testkit.pki import TestPki
from dmp_gateway.dmp_simulator.testkit.soap import SoapMessage

SERVICES = "/si-dmp-server/v2/services"
#: The simulator's clock: a minute after the reference messages were built.
SIM_NOW = NOW + timedelta(minutes=1)


@pytest.fixture(scope="session")
def pki() -> TestPki:
    return TestPki.create()


@pytest.fixture(scope="session")
def pki_dir(pki: TestPki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pki")
    pki.ca.write(directory, "ca")
    pki.server.write(directory, "server")
    pki.auth.write(directory, "auth")
    return directory


@pytest.fixture(scope="session")
def cda_template(shared_dir: Path) -> Path:
    return shared_dir / "ans-cda-kit" / "ExemplesCDA" / "DOC_NON_STRUCTURE_CDA-R2-N1.xml"


@pytest.fixture(scope="session")
def sim_database(pg_admin_url: str) -> str:
    """One database for the rule tests (each test uses fresh uniqueIds, so they do not interfere)."""
    from dmp_gateway.store.db import create_database

    return create_database(pg_admin_url, "sim")


@pytest.fixture
def make_config(pki_dir: Path, shared_dir: Path, sim_database: str):
    def make(**overrides) -> SimulatorConfig:
        values = dict(
            database_url=sim_database, trust_anchors=(pki_dir / "ca.pem",), clock=lambda: SIM_NOW,
            cda_kit=shared_dir / "ans-cda-kit", xml_schemas=shared_dir / "xml-schemas", db_pool_size=4,
        )
        values.update(overrides)
        return SimulatorConfig(**values)

    return make


@pytest.fixture
async def sim_app(make_config):
    app = create_app(make_config())
    yield app
    await app.state.simulator.aclose()


@pytest.fixture
async def client(sim_app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim_app), base_url="http://dmp-sim") as c:
        yield c


async def post(client: httpx.AsyncClient, message: SoapMessage | object, service: str | None = None) -> Answer:
    """POST a SoapMessage (or an Iti41Request) to its service and read the answer."""
    message = getattr(message, "message", message)
    service = service or ns.SERVICE_OF_ACTION[message.action]
    body, content_type = message.to_http()
    response = await client.post(f"{SERVICES}/{service}", content=body, headers={"content-type": content_type})
    return read_answer(response)


@pytest.fixture
def send(client: httpx.AsyncClient):
    """`await send(message)` posts to the in-process simulator and returns the Answer."""

    async def send_(message, service: str | None = None) -> Answer:
        return await post(client, message, service)

    return send_


@pytest.fixture
def send_to():
    """`await send_to(client, message)`: like `send`, to the simulator behind another client."""
    return post


@pytest.fixture
def serve():
    """`async with serve(config) as base_url`: the simulator under uvicorn on a loopback port."""
    import asyncio
    import contextlib
    import socket

    import uvicorn

    from dmp_gateway.dmp_simulator.server import uvicorn_config

    @contextlib.asynccontextmanager
    async def running(config: SimulatorConfig):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        app = create_app(config)
        server = uvicorn.Server(uvicorn_config(config, app=app, port=port))
        # The socket is listening before serve() runs: clients wait in its backlog, no polling needed.
        sock.listen(64)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        scheme = "https" if config.tls else "http"
        try:
            yield f"{scheme}://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            await task
            sock.close()

    return running


def ready_line(stream) -> str:  # noqa: ANN001 - a text stream of the dmp-sim process
    """The line where `dmp-gateway dmp-sim` says it listens; warnings may come first (e.g. no ANS kit)."""
    lines = []
    for _ in range(20):
        line = stream.readline()
        if not line or "ready on " in line:
            return line
        lines.append(line)
    raise AssertionError(f"no ready line in: {lines}")
