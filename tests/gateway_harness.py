"""A real gateway on loopback for HTTP tests: uvicorn in a thread, on its own database.

Tests isolate themselves by workspace (each test provisions its own), which is also what the
product guarantees between customers, so one server per session is enough.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn

from dmp_gateway.auth.setup import embedded_issuer
from dmp_gateway.bootstrap import open_services
from dmp_gateway.config import Settings
from dmp_gateway.fhir.app import create_app
from dmp_gateway.fhir.workspaces import provision_workspace
from dmp_gateway.store.migrate import migrate

ALL_SCOPES = " ".join(
    f"{t}_{i}" for t in ("PATIENT", "BINARY", "DOCUMENTREFERENCE", "COMMUNICATIONREQUEST", "COMMUNICATION",
                         "PRACTITIONER", "ORGANIZATION", "DEVICE")
    for i in ("CREATE", "READ", "SEARCH", "UPDATE"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThreadedServer:
    """uvicorn serving `app` from a background thread until `stop()`."""

    def __init__(self, app, port: int) -> None:  # noqa: ANN001
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                                    lifespan="on", access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@dataclass
class TestWorkspace:
    id: str
    organization: str
    dmp_device: str
    token: str
    practitioner: str


@dataclass
class Gateway:
    base_url: str
    settings: Settings
    database_url: str
    #: A client-credentials application registered before start: (client_id, secret, workspace id).
    app_client: tuple[str, str, str] | None = None

    @property
    def fhir(self) -> str:
        return f"{self.base_url}/fhir/v2"

    def token(self, workspace: str, identities: list[str], scopes: str = ALL_SCOPES) -> str:
        return embedded_issuer(self.settings).user_token(
            workspace_id=workspace, identities=identities, scopes=scopes.split())

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.fhir, headers=headers, timeout=30)

    def new_workspace(self, name: str = "CH Test") -> TestWorkspace:
        ws = provision(self.settings, self.database_url, name)
        # A practitioner of this workspace, whom the token may send as.
        token = self.token(ws.id, [], scopes="PRACTITIONER_CREATE")
        with self.client(token) as c:
            from dmp_gateway.samples import sample_bytes
            r = c.post("/Practitioner", content=sample_bytes("practitioner.json"),
                       headers={"Content-Type": "application/fhir+json"})
            r.raise_for_status()
            practitioner = f"Practitioner/{r.json()['id']}"
        return TestWorkspace(ws.id, ws.organization, ws.dmp_device, self.token(ws.id, [practitioner]), practitioner)


def provision(settings: Settings, database_url: str, name: str):  # noqa: ANN201
    async def run():  # noqa: ANN202
        services = await open_services(settings, database_url)
        try:
            return await provision_workspace(services, name, finess="123456789")
        finally:
            await services.close()

    return asyncio.run(run())


def start_gateway(database_url: str, data_dir: Path, *, dmp: object | None = None,
                  **overrides: object) -> tuple[Gateway, ThreadedServer]:
    from dmp_gateway.auth.cli_support import add_client

    port = free_port()
    settings = Settings(data_dir=data_dir, database_url=database_url, port=port, **overrides)
    migrate(database_url)
    app_ws = provision(settings, database_url, "Application workspace")
    add_client(settings, "test-app", app_ws.id, ALL_SCOPES, secret="s3cret-app", database_reference="db-ref-1")
    server = ThreadedServer(create_app(settings, dmp=dmp), port)
    server.start()
    return Gateway(f"http://127.0.0.1:{port}", settings, database_url, ("test-app", "s3cret-app", app_ws.id)), server
