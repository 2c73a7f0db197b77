"""A uvicorn server on loopback requiring a client certificate from the dev CA: the DMP's side of the
connection for tests of the gateway's transport (tests/integration/dmp)."""

from __future__ import annotations

import asyncio
import ssl

import uvicorn

from dmp_gateway.dmp.certs import CertPaths


async def serve_tls(app, paths: CertPaths, port: int = 0, **config: object) -> uvicorn.Server:  # noqa: ANN001
    """Start `app` over mutual TLS on the running loop; `server.task` serves, `server.port` is bound.

    `config`: more uvicorn.Config options (e.g. timeout_keep_alive)."""
    options: dict = {"log_level": "warning", **config}
    server = uvicorn.Server(uvicorn.Config(
        app, host="127.0.0.1", port=port, lifespan="off", ssl_certfile=str(paths.server_cert),
        ssl_keyfile=str(paths.server_key), ssl_ca_certs=str(paths.ca_cert), ssl_cert_reqs=ssl.CERT_REQUIRED,
        **options))
    server.task = asyncio.create_task(server.serve())
    for _ in range(500):  # wait for the listening socket (bounded: 5 s)
        if server.started:
            break
        await asyncio.sleep(0.01)
    assert server.started
    server.port = server.servers[0].sockets[0].getsockname()[1]
    return server
