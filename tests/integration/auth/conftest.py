"""A real identity provider stand-in: a JWKS endpoint served by uvicorn on loopback, in a thread.

The socket is bound and listening before uvicorn starts, so requests queue in the backlog until it
serves them: no polling or sleeping to wait for start-up.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class JwksServer:
    """What the endpoint answers; tests change it between requests."""

    url: str = ""
    document: dict[str, Any] = field(default_factory=lambda: {"keys": []})
    status: int = 200
    hang: bool = False
    hits: int = 0
    released: threading.Event = field(default_factory=threading.Event)

    def publish(self, *keys: Any) -> None:
        self.document = {"keys": [key.as_dict(private=False) for key in keys]}


def _app(state: JwksServer) -> Starlette:
    async def jwks(request: Request) -> Response:
        state.hits += 1
        if state.hang:
            released = state.released
            while not released.is_set():  # answers only when the test is over
                await asyncio.sleep(0.05)
        if state.status != 200:
            return Response("provider unavailable", status_code=state.status)
        return JSONResponse(state.document)

    return Starlette(routes=[Route("/jwks", jwks)])


@pytest.fixture(scope="module")
def _running_jwks_server() -> Iterator[JwksServer]:
    state = JwksServer()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    state.url = f"http://127.0.0.1:{sock.getsockname()[1]}/jwks"
    config = uvicorn.Config(_app(state), log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield state
    state.released.set()
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture
def jwks_server(_running_jwks_server: JwksServer) -> Iterator[JwksServer]:
    """The module's server, reset to an empty key set that answers at once."""
    state = _running_jwks_server
    state.document, state.status, state.hang, state.hits = {"keys": []}, 200, False, 0
    state.released = threading.Event()
    yield state
    state.released.set()  # lets a hanging request finish


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL nobody listens on (the port was just released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/jwks"
