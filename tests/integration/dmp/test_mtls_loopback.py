"""SoapDmp over real TLS with client certificates on loopback, with the certificates `dev-certs` makes.

A small ASGI registry served by uvicorn requires a client certificate from the dev CA, checks the
VIHF signature and answers an empty ITI-18 result: the whole transport stack (wiring, ssl context,
httpx, mTLS, signatures) runs for real.
"""

from __future__ import annotations

import asyncio
import socket

import pytest
from lxml import etree

from dmp_gateway.config import Settings
from dmp_gateway.dmp import namespaces as ns
from dmp_gateway.dmp.devcerts import generate
from dmp_gateway.dmp.errors import Configuration, OutcomeUnknown, Transient
from dmp_gateway.dmp.mtom import parse_message
from dmp_gateway.dmp.soap import build_envelope, build_fault, parse_envelope, serialize
from dmp_gateway.dmp.vihf import VihfError, verify_vihf
from dmp_gateway.dmp.wiring import soap_dmp_from_settings
from dmp_gateway.ins import Ins
from tls_server import serve_tls

INS = Ins("279035121518989", "1.2.250.1.213.1.4.10")


def registry_app(ca_pem: str, seen: list[str]):
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = dict(scope["headers"])
        envelope = parse_envelope(parse_message(headers.get(b"content-type", b"").decode(), body).envelope)
        try:
            claims = verify_vihf(envelope.security, ca_pem)
            seen.append(claims.first("Identifiant_Structure") or "")
            answer = etree.Element(f"{{{ns.QUERY}}}AdhocQueryResponse", status=ns.RESPONSE_SUCCESS)
            etree.SubElement(answer, f"{{{ns.RIM}}}RegistryObjectList")
            status = 200
        except VihfError as exc:
            answer, status = build_fault("Sender", str(exc)), 500
        data = serialize(build_envelope(answer, action=ns.ACTION_ITI18_RESPONSE, relates_to=envelope.message_id))
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/soap+xml; charset=UTF-8")]})
        await send({"type": "http.response.body", "body": data})

    return app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def tls_registry(tmp_path):
    paths = generate(tmp_path / "certs")
    seen: list[str] = []
    port = _free_port()
    server = await serve_tls(registry_app(str(paths.ca_cert), seen), paths, port)
    yield paths, f"https://127.0.0.1:{port}/si-dmp-server/v2/services", seen
    server.should_exit = True
    await server.task


async def test_find_over_mutual_tls(tls_registry, tmp_path):
    paths, url, seen = tls_registry
    dmp = soap_dmp_from_settings(Settings(data_dir=tmp_path, certs_dir=paths.directory, dmp_base_url=url))
    try:
        assert await dmp.find(INS, "1.2.250.1.999.1.1.4.1") is None
    finally:
        await dmp.aclose()
    assert seen == ["1120459876"]


async def test_server_certificate_from_another_ca_is_a_configuration_error(tls_registry, tmp_path):
    _, url, seen = tls_registry
    other = generate(tmp_path / "other")
    dmp = soap_dmp_from_settings(Settings(data_dir=tmp_path, certs_dir=other.directory, dmp_base_url=url))
    try:
        with pytest.raises(Configuration) as caught:
            await dmp.find(INS, "1.2.250.1.999.1.1.4.1")
    finally:
        await dmp.aclose()
    assert caught.value.code == "CERTIFICATE_ERROR" and seen == []


async def _find_failure(settings: Settings) -> Exception:
    """What the wired connector raises for an ITI-18 lookup, and that it raised within 5 s."""
    dmp = soap_dmp_from_settings(settings)
    started = asyncio.get_running_loop().time()
    try:
        await dmp.find(INS, "1.2.250.1.999.1.1.4.1")
    except Exception as exc:  # noqa: BLE001 - returned for the test to judge
        assert asyncio.get_running_loop().time() - started < 5
        return exc
    finally:
        await dmp.aclose()
    raise AssertionError("the lookup did not fail")


async def test_a_handshake_that_never_ends_is_transient_within_the_connect_timeout(tmp_path):
    """The wired connector sends to httpx's transports directly (transport.ClientShards): the configured
    timeouts must still apply, and httpx's errors still map to the delivery's error kinds. A TLS
    handshake cut short by the timeout is a slow DMP (retried), not a certificate problem."""
    paths = generate(tmp_path / "certs")
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # the kernel accepts; nobody ever answers the TLS ClientHello
        failure = await _find_failure(Settings(data_dir=tmp_path, certs_dir=paths.directory, dmp_connect_timeout=0.3,
                                               dmp_base_url=f"https://127.0.0.1:{silent.getsockname()[1]}/dmp"))
    assert type(failure) is Transient and failure.code == "CONNECT", failure


async def test_a_request_sent_and_never_answered_is_an_unknown_outcome_after_the_read_timeout(tmp_path):
    paths = generate(tmp_path / "certs")

    async def silent_app(scope, receive, send):  # noqa: ANN001, ANN202 - reads the request, never answers
        if scope["type"] == "http":
            while (await receive()).get("more_body"):
                pass
            await asyncio.sleep(30)

    port = _free_port()
    server = await serve_tls(silent_app, paths, port)
    try:
        failure = await _find_failure(Settings(data_dir=tmp_path, certs_dir=paths.directory, dmp_read_timeout=0.5,
                                               dmp_base_url=f"https://127.0.0.1:{port}/dmp"))
    finally:
        server.should_exit = server.force_exit = True
        await server.task
    assert isinstance(failure, OutcomeUnknown) and failure.code == "NO_ANSWER", failure


async def test_a_refused_connection_is_transient(tmp_path):
    paths = generate(tmp_path / "certs")
    failure = await _find_failure(Settings(data_dir=tmp_path, certs_dir=paths.directory,
                                           dmp_base_url=f"https://127.0.0.1:{_free_port()}/dmp"))
    assert type(failure) is Transient and failure.code == "CONNECT", failure
