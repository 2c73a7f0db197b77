"""Run the simulator with uvicorn: plain HTTP, or HTTPS that requires a client certificate from the CA.

TLS 1.2+ with `ssl.CERT_REQUIRED` (dmp-interfaces.md §2.2, §8): a client without a certificate issued by
`TlsFiles.client_ca_file` fails the handshake, before any HTTP. The peer certificate reaches the app through
`connection.ConnectionAwareProtocol` (the ASGI `tls` extension), for the structure-id check of the VIHF.

`SimulatorConfig.workers` > 1 runs several worker processes on the port (workers.py).
"""

from __future__ import annotations

import ssl

import uvicorn

from dmp_gateway.serving import GracefulServer, settle_heap

from dmp_gateway.dmp_simulator.config import SimulatorConfig, TlsFiles


def server_ssl_context(tls: TlsFiles) -> ssl.SSLContext:
    """Server context: our certificate, client certificates required and checked against the CA bundle."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(tls.client_ca_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_cert_chain(str(tls.cert_file), str(tls.key_file))
    return context


def uvicorn_config(config: SimulatorConfig, app=None, **overrides) -> uvicorn.Config:  # noqa: ANN001, ANN003
    """The uvicorn configuration for `config` (tests use it to run a server on a free port)."""
    from dmp_gateway.dmp_simulator.connection import ConnectionAwareProtocol

    factory = _ServerSslContext(config.tls) if config.tls is not None else None
    options = dict(
        host=config.host, port=config.port, http=ConnectionAwareProtocol, lifespan="on",
        ssl_context_factory=factory, access_log=False, log_level="warning", timeout_keep_alive=30,
    )
    if app is None:
        options.update(factory=True)
        app = AppFactory(config)
    options.update(overrides)
    return uvicorn.Config(app, **options)


class _ServerSslContext:
    """uvicorn's `ssl_context_factory` (a class, not a closure: spawned workers receive it pickled)."""

    def __init__(self, tls: TlsFiles) -> None:
        self.tls = tls

    def __call__(self, _config: uvicorn.Config, _default: object) -> ssl.SSLContext:
        return server_ssl_context(self.tls)


class AppFactory:
    """Builds the app in the server process (uvicorn `factory=True`), then settles the heap."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config

    def __call__(self):  # noqa: ANN204
        from dmp_gateway.dmp_simulator.app import create_app

        app = create_app(self.config)
        settle_heap()
        return app


def run(config: SimulatorConfig) -> None:
    """Serve until interrupted (`dmp-gateway dmp-sim`); returns after a graceful shutdown."""
    if config.workers > 1:
        from dmp_gateway.dmp_simulator.workers import run_workers

        run_workers(config)
        return
    GracefulServer(uvicorn_config(config), ready_message(config)).run()


def ready_message(config: SimulatorConfig) -> str:
    """The line on stderr that says the simulator serves (scripts and tests wait for it)."""
    scheme = "https" if config.tls else "http"
    services = f"{config.base_path}/{{patients,repository,registry}}"
    workers = f" ({config.workers} workers)" if config.workers > 1 else ""
    return f"DMP simulator ready on {scheme}://{config.host}:{config.port}{services}{workers}"
