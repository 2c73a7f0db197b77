"""Real sockets: HTTPS with a required client certificate from the CA, whose OU must be the VIHF structure;
dropped connections are real hang-ups."""

from __future__ import annotations

import ssl

import httpx
import pytest

from dmp_gateway.dmp_simulator import TlsFiles
from dmp_gateway.dmp_simulator.rejections import AUTHENTICATION_ERROR
from dmp_gateway.dmp_simulator.testkit.answers import read_answer
from dmp_gateway.dmp_simulator.testkit.messages import Iti41Spec, build_iti41
from dmp_gateway.dmp_simulator.testkit.pki import TestPki, issue

REPOSITORY = "/si-dmp-server/v2/services/repository"


def _client_context(pki_dir, identity=None, tmp_path=None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki_dir / "ca.pem"))
    if identity is None:
        context.load_cert_chain(str(pki_dir / "auth.pem"), str(pki_dir / "auth.key"))
    elif identity != "none":
        cert, key = identity.write(tmp_path, "client")
        context.load_cert_chain(str(cert), str(key))
    return context


@pytest.fixture
def tls_config(make_config, pki_dir):
    return make_config(tls=TlsFiles(pki_dir / "server.pem", pki_dir / "server.key", pki_dir / "ca.pem"))


async def _post(base_url, context, request):
    body, content_type = request.to_http()
    async with httpx.AsyncClient(verify=context, timeout=20) as client:
        return await client.post(base_url + REPOSITORY, content=body, headers={"content-type": content_type})


async def test_submission_over_mtls_is_accepted(tls_config, serve, pki, pki_dir, cda_template):
    async with serve(tls_config) as base_url:
        response = await _post(base_url, _client_context(pki_dir), build_iti41(pki, cda_template))
    assert read_answer(response).success


@pytest.mark.parametrize("who", ["none", "other CA"])
async def test_client_without_a_certificate_of_the_ca_is_refused_at_the_handshake(who, tls_config, serve, pki, pki_dir, cda_template, tmp_path):
    identity = "none" if who == "none" else TestPki.create().auth
    async with serve(tls_config) as base_url:
        with pytest.raises(httpx.TransportError):
            await _post(base_url, _client_context(pki_dir, identity, tmp_path), build_iti41(pki, cda_template))


async def test_tls_certificate_of_another_structure_is_an_authentication_error(tls_config, serve, pki, pki_dir, cda_template, tmp_path):
    other = issue(pki.ca, "OTHER ORG_AUTH_CLI", ou="1120459876")
    async with serve(tls_config) as base_url:
        response = await _post(base_url, _client_context(pki_dir, other, tmp_path), build_iti41(pki, cda_template))
    answer = read_answer(response)
    assert answer.error_codes == [AUTHENTICATION_ERROR] and "TLS client certificate" in answer.contexts[0]


async def test_drop_and_commit_then_drop_are_real_hang_ups(tls_config, serve, pki, pki_dir, cda_template):
    context = _client_context(pki_dir)
    spec = Iti41Spec()
    async with serve(tls_config) as base_url:
        async with httpx.AsyncClient(verify=context, timeout=20) as client:
            await client.post(base_url + "/_sim/faults", json={"next": ["drop", "commit_then_fail"]})
            with pytest.raises(httpx.RemoteProtocolError):
                await _post(base_url, context, build_iti41(pki, cda_template, spec))
            with pytest.raises(httpx.RemoteProtocolError):
                await _post(base_url, context, build_iti41(pki, cda_template, spec))
            listed = (await client.get(base_url + "/_sim/documents", params={"unique_id": spec.document_uid})).json()
            stats = (await client.get(base_url + "/_sim/stats")).json()
    assert len(listed["documents"]) == 1
    assert stats["faults"] == {"drop": 1, "commit_then_fail": 1}


async def test_plain_http_server_serves_too(make_config, serve, pki, cda_template):
    async with serve(make_config()) as base_url:
        response = await _post(base_url, None, build_iti41(pki, cda_template))
    assert read_answer(response).success
