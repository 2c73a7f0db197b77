"""`dmp.network.AsyncioBackend` under httpcore, over mutual TLS on loopback, on both event loops.

The worker runs on uvloop and the tests on asyncio's own loop: each case runs on both. A uvicorn
server with the dev certificates plays the DMP; what it answers is plain bytes, since what is tested
here is the connection: kept-alive reuse, a server that closed an idle connection, flow control in
both directions, a connection cut in the middle of an answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpcore
import httpx
import pytest
import uvicorn
import uvloop

from dmp_gateway.dmp.certs import client_ssl_context
from dmp_gateway.dmp.devcerts import generate
from dmp_gateway.dmp.errors import OutcomeUnknown
from dmp_gateway.dmp.network import AsyncioBackend
from dmp_gateway.dmp.transport import ClientShards, map_errors
from tls_server import serve_tls

LOOPS = {"asyncio": asyncio.run, "uvloop": uvloop.run}


def echo_app(connections: set[int]):
    """Answers with how many bytes of body it received, then `x-answer-size` bytes of its own."""

    async def app(scope, receive, send):  # noqa: ANN001, ANN202
        if scope["type"] != "http":
            return
        if scope.get("client"):  # none on a unix socket
            connections.add(scope["client"][1])
        received = 0
        while True:
            message = await receive()
            received += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        size = int(dict(scope["headers"]).get(b"x-answer-size", b"0"))
        if scope["path"] == "/cut":
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-length", b"1000000")]})
            await send({"type": "http.response.body", "body": b"x" * 1000, "more_body": True})
            raise RuntimeError("the server dies mid-answer")  # uvicorn drops the connection
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"x-received", str(received).encode())]})
        await send({"type": "http.response.body", "body": b"y" * size})

    return app


def run_against_server(loop: str, tmp_path, body: Callable[[ClientShards, str, set[int]], Awaitable[None]]) -> None:
    paths = generate(tmp_path / "certs")

    async def main() -> None:
        connections: set[int] = set()
        server = await serve_tls(echo_app(connections), paths, log_level="critical", timeout_keep_alive=1)
        port = server.port
        pool = httpcore.AsyncConnectionPool(ssl_context=client_ssl_context(paths), network_backend=AsyncioBackend())
        shards = ClientShards([pool], httpx.Timeout(5.0))
        try:
            await body(shards, f"https://127.0.0.1:{port}", connections)
        finally:
            await shards.aclose()
            server.should_exit = True
            await server.task

    LOOPS[loop](main())


@pytest.mark.parametrize("loop", LOOPS)
def test_large_request_and_answer_pass_whole_on_one_kept_alive_connection(loop, tmp_path):
    async def body(shards: ClientShards, base: str, connections: set[int]) -> None:
        for size in (0, 3_000_000, 10):
            request = bytes(range(256)) * (5_000_000 // 256)  # above every socket and TLS buffer
            answer = await shards.post(f"{base}/echo", content=request, headers={"x-answer-size": str(size)})
            assert answer.status_code == 200 and answer.headers["x-received"] == str(len(request))
            assert answer.content == b"y" * size
        assert len(connections) == 1

    run_against_server(loop, tmp_path, body)


@pytest.mark.parametrize("loop", LOOPS)
def test_a_connection_the_server_closed_while_idle_is_replaced_not_used(loop, tmp_path):
    async def body(shards: ClientShards, base: str, connections: set[int]) -> None:
        assert (await shards.post(f"{base}/echo", content=b"a", headers={})).status_code == 200
        await asyncio.sleep(1.6)  # beyond the server's keep-alive timeout: it has closed the connection
        assert (await shards.post(f"{base}/echo", content=b"b", headers={})).status_code == 200
        assert len(connections) == 2

    run_against_server(loop, tmp_path, body)


@pytest.mark.parametrize("loop", LOOPS)
def test_an_answer_cut_in_the_middle_is_an_unknown_outcome(loop, tmp_path):
    async def body(shards: ClientShards, base: str, connections: set[int]) -> None:
        with pytest.raises(OutcomeUnknown), map_errors():
            await shards.post(f"{base}/cut", content=b"request", headers={})
        # The pool goes on with a new connection.
        assert (await shards.post(f"{base}/echo", content=b"again", headers={})).status_code == 200

    run_against_server(loop, tmp_path, body)


@pytest.mark.parametrize("loop", LOOPS)
def test_a_unix_socket_and_a_refused_connection(loop, tmp_path):
    """httpcore's `uds=` goes through the backend's unix connect; nobody listening is a connect error."""
    socket_path = str(tmp_path / "dmp.sock")

    async def main() -> None:
        config = uvicorn.Config(echo_app(set()), uds=socket_path, log_level="critical", lifespan="off")
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        shards = ClientShards([httpcore.AsyncConnectionPool(uds=socket_path, network_backend=AsyncioBackend())])
        gone = ClientShards([httpcore.AsyncConnectionPool(uds=str(tmp_path / "nobody.sock"),
                                                          network_backend=AsyncioBackend())])
        try:
            answer = await shards.post("http://dmp.local/echo", content=b"12345", headers={})
            assert answer.headers["x-received"] == "5"
            with pytest.raises(httpcore.ConnectError):
                await gone.post("http://dmp.local/echo", content=b"", headers={})
        finally:
            await shards.aclose()
            await gone.aclose()
            server.should_exit = True
            await task

    LOOPS[loop](main())
