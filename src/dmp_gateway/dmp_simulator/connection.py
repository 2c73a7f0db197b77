"""What the simulator needs from the connection: the TLS client certificate, and a way to drop it.

uvicorn (0.54) does not fill the ASGI TLS extension, so `ConnectionAwareProtocol` (a subclass of uvicorn's
httptools protocol, given to `uvicorn.Config(http=...)`) puts it into every request scope, in the ASGI
spec's form (`scope["extensions"]["tls"]["client_cert_chain"]`, PEM strings), plus the simulator's own
`scope["extensions"]["dmp_sim.connection"]["abort"]` used to drop a connection without an answer.
Under `httpx.ASGITransport` (no socket), a drop is raised as the error httpx itself raises when a server
hangs up (`RemoteProtocolError`) and a timeout as `ReadTimeout`, so in-process clients see what they would
see over a socket.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Callable

import anyio
import httpx
from cryptography import x509
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from dmp_gateway.dmp_simulator.faults import Fault

TLS_EXTENSION = "tls"
CONNECTION_EXTENSION = "dmp_sim.connection"


class ConnectionAwareProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol, plus the peer certificate and an abort hook in each scope."""

    _tls: dict | None = None

    def connection_made(self, transport) -> None:  # noqa: ANN001 - asyncio.Transport
        super().connection_made(transport)
        ssl_object: ssl.SSLObject | None = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            der = ssl_object.getpeercert(binary_form=True)
            chain = [ssl.DER_cert_to_PEM_cert(der)] if der else []
            self._tls = {"client_cert_chain": chain, "tls_version": None, "cipher_suite": None}

    def on_message_begin(self) -> None:
        super().on_message_begin()
        extensions = self.scope.setdefault("extensions", {})  # type: ignore[typeddict-item]
        if self._tls is not None:
            extensions[TLS_EXTENSION] = self._tls
        extensions[CONNECTION_EXTENSION] = {"abort": self.transport.abort}


def peer_certificate(scope: dict) -> x509.Certificate | None:
    """The TLS client certificate of the request, when the server put one in the scope."""
    chain = scope.get("extensions", {}).get(TLS_EXTENSION, {}).get("client_cert_chain") or []
    return _certificate(chain[0]) if chain else None


@functools.lru_cache(maxsize=64)
def _certificate(pem: str) -> x509.Certificate:
    """Parsed once: every request of every connection of a client carries the same certificate."""
    return x509.load_pem_x509_certificate(pem.encode("ascii"))


class DropConnection(Exception):
    """Raised by a handler to end the exchange with no answer (fault injection)."""

    def __init__(self, fault: Fault, wait_seconds: float = 0.0) -> None:
        super().__init__(fault.value)
        self.fault = fault
        self.wait_seconds = wait_seconds


class DropMiddleware:
    """Turns DropConnection into a real hang-up (sockets) or the matching httpx error (in-process)."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001 - ASGI
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        except DropConnection as drop:
            hook = scope.get("extensions", {}).get(CONNECTION_EXTENSION)
            if hook is None:
                request = httpx.Request(scope["method"], f"http://asgi{scope['path']}")
                if drop.fault is Fault.TIMEOUT:
                    raise httpx.ReadTimeout("simulated DMP timeout (no answer)", request=request) from None
                raise httpx.RemoteProtocolError(
                    "Server disconnected without sending a response.", request=request
                ) from None
            if drop.wait_seconds:
                await anyio.sleep(drop.wait_seconds)
            hook["abort"]()
            while (await receive())["type"] != "http.disconnect":
                pass
