"""Run the simulator with uvicorn: plain HTTP, or HTTPS that requires a client certificate from the CA.

TLS 1.2+ with `ssl.CERT_REQUIRED` (dmp-interfaces.md §2.2, §8): a client without a certificate issued by
`TlsFiles.client_ca_file` fails the handshake, before any HTTP. The peer certificate reaches the app through
`connection.ConnectionAwareProtocol` (the ASGI `tls` extension), for the structure-id check of the VIHF.
"""

from __future__ import annotations

import ssl

import uvicorn

from dmp_gateway.serving import GracefulServer

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

    factory = None
    if config.tls is not None:
        tls = config.tls

        def factory(_config: uvicorn.Config, _default) -> ssl.SSLContext:  # noqa: ANN001
            return server_ssl_context(tls)

    options = dict(
        host=config.host, port=config.port, http=ConnectionAwareProtocol, lifespan="on",
        ssl_context_factory=factory, access_log=False, log_level="warning", timeout_keep_alive=30,
    )
    if app is None:
        options.update(factory=True)
        app = _AppFactory(config)
    options.update(overrides)
    return uvicorn.Config(app, **options)


class _AppFactory:
    """Builds the app in each worker process (uvicorn `factory=True`)."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config

    def __call__(self):  # noqa: ANN204
        from dmp_gateway.dmp_simulator.app import create_app

        return create_app(self.config)


def run(config: SimulatorConfig) -> None:
    """Serve until interrupted (`dmp-gateway dmp-sim`); returns after a graceful shutdown."""
    scheme = "https" if config.tls else "http"
    ready = f"DMP simulator ready on {scheme}://{config.host}:{config.port}{config.base_path}/{{patients,repository,registry}}"
    GracefulServer(uvicorn_config(config), ready).run()
