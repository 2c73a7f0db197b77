"""Transport failures, SOAP faults, RegistryResponses and TD0.2 answers become the right `dmp.errors`
(dmp-interfaces.md §9; notes/style.md §2.4-2.5)."""

from __future__ import annotations

import ssl

import httpcore
import httpx
import pytest
from lxml import etree

from dmp_gateway.dmp import namespaces as ns
from dmp_gateway.dmp.client import SoapDmp
from dmp_gateway.dmp.errors import Configuration, Duplicate, OutcomeUnknown, Permanent, Transient
from dmp_gateway.dmp.iti41 import parse_registry_response
from dmp_gateway.dmp.soap import build_envelope, build_fault, serialize
from dmp_gateway.dmp.td02 import parse_td02_response
from dmp_gateway.dmp.types import DmpState

BASE = "https://dmp.test/si-dmp-server/v2/services"


def _client(handler) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


@pytest.fixture
def dmp_with(signer, profile):
    from dmp_gateway.dmp.client import ConnectorConfig

    def make(handler) -> SoapDmp:
        return SoapDmp(client=_client(handler), config=ConnectorConfig(BASE, "1.2.250.1.999.1.1", profile), signer=signer)

    return make


def _raise(exc: Exception):
    def handler(request):
        raise exc
    return handler


@pytest.mark.parametrize("exc, expected, code", [
    (httpx.ConnectError("refused"), Transient, "CONNECT"),
    (httpx.ConnectTimeout("slow"), Transient, "CONNECT"),
    (httpx.ReadTimeout("no answer"), OutcomeUnknown, "NO_ANSWER"),
    (httpx.RemoteProtocolError("dropped"), OutcomeUnknown, "NO_ANSWER"),
    (httpx.ReadError("reset"), OutcomeUnknown, "NO_ANSWER"),
    (httpx.WriteError("broken pipe"), Transient, "WRITE"),
    (httpx.PoolTimeout("pool"), Transient, "POOL_TIMEOUT"),
])
async def test_network_failures(dmp_with, kit_ins, exc, expected, code):
    with pytest.raises(expected) as caught:
        await dmp_with(_raise(exc)).dmp_status(kit_ins)
    assert type(caught.value) is expected and caught.value.code == code
    assert caught.value.__cause__ is exc


async def test_tls_handshake_failure_is_configuration(dmp_with, kit_ins):
    error = httpx.ConnectError("handshake")
    error.__cause__ = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    with pytest.raises(Configuration) as caught:
        await dmp_with(_raise(error)).dmp_status(kit_ins)
    assert caught.value.code == "CERTIFICATE_ERROR"


def _soap(body, status=200) -> httpx.Response:
    return httpx.Response(status, content=serialize(build_envelope(body, action="urn:x")),
                          headers={"content-type": "application/soap+xml"})


@pytest.mark.parametrize("response, expected", [
    (httpx.Response(503, text="busy"), Transient),
    (httpx.Response(502), Transient),
    (httpx.Response(500, text="<html>oops</html>"), Transient),
    (httpx.Response(400, text="bad"), Permanent),
    (httpx.Response(415), Permanent),
    (httpx.Response(200, text="<not-xml"), OutcomeUnknown),
])
async def test_http_answers(dmp_with, kit_ins, response, expected):
    with pytest.raises(expected) as caught:
        await dmp_with(lambda request: response).dmp_status(kit_ins)
    assert type(caught.value) is expected and caught.value.http_status == response.status_code


@pytest.mark.parametrize("code, expected", [("Receiver", Transient), ("Sender", Permanent),
                                            ("MustUnderstand", Permanent), ("VersionMismatch", Permanent)])
async def test_soap_faults(dmp_with, kit_ins, code, expected):
    fault = build_fault(code, "VIHF invalide", subcode=("urn:dmp:errors", "VIHF_SIGNATURE"))
    with pytest.raises(expected) as caught:
        await dmp_with(lambda request: _soap(fault, 500)).dmp_status(kit_ins)
    assert type(caught.value) is expected
    assert (caught.value.code, caught.value.context) == ("VIHF_SIGNATURE", "VIHF invalide")


def _registry(status: str, *errors: tuple[str, str]) -> etree._Element:
    response = etree.Element(f"{{{ns.RS}}}RegistryResponse", status=status)
    if errors:
        holder = etree.SubElement(response, f"{{{ns.RS}}}RegistryErrorList")
        for code, severity in errors:
            etree.SubElement(holder, f"{{{ns.RS}}}RegistryError", errorCode=code, codeContext=f"text of {code}",
                             location="1.2.3", severity=severity)
    return response


@pytest.mark.parametrize("codes, expected", [
    (["XDSRegistryBusy"], Transient),
    (["XDSRepositoryOutOfResources"], Transient),
    (["XDSDuplicateUniqueIdInRegistry"], Duplicate),
    (["XDSRegistryMetadataError"], Permanent),
    (["XDSPatientIdDoesNotMatch"], Permanent),
    (["XDSRegistryBusy", "XDSRepositoryMetadataError"], Permanent),
    (["XDSRegistryBusy", "XDSDuplicateUniqueIdInRegistry"], Duplicate),
    (["DMPInvalidVIHF"], Configuration),
    (["DMPAuthenticationError", "XDSRegistryMetadataError"], Configuration),
])
def test_registry_failure_classification(codes, expected):
    result = parse_registry_response(_registry(ns.RESPONSE_FAILURE, *((c, ns.SEVERITY_ERROR) for c in codes)))
    with pytest.raises(expected) as caught:
        result.raise_for_status()
    assert caught.value.code in codes and caught.value.context.startswith("text of ")
    assert caught.value.location == "1.2.3" and len(caught.value.errors) == len(codes)


def test_partial_success_is_success_with_warnings():
    result = parse_registry_response(_registry(ns.RESPONSE_PARTIAL_SUCCESS, ("DocumentQueued", ns.SEVERITY_WARNING)))
    result.raise_for_status()
    assert result.partial and [w.code for w in result.warnings] == ["DocumentQueued"]


def test_failure_without_errors_is_permanent():
    with pytest.raises(Permanent):
        parse_registry_response(_registry(ns.RESPONSE_FAILURE)).raise_for_status()


async def test_submit_partial_success_gives_a_flagged_receipt(dmp_with, make_submission):
    def handler(request):
        return _soap(_registry(ns.RESPONSE_PARTIAL_SUCCESS, ("XDSExtraMetadataNotSaved", ns.SEVERITY_WARNING)))

    receipt = await dmp_with(handler).submit(make_submission())
    assert receipt.partial and receipt.warnings[0].code == "XDSExtraMetadataNotSaved"


def test_td02_rejection_keeps_ack_detail(td02_answer):
    from dmp_gateway.dmp.types import DmpStatus

    answer = td02_answer(DmpStatus(DmpState.OPEN))
    ack = answer.find("{urn:hl7-org:v3}acknowledgement")
    ack.set("typeCode", "AE")
    detail = etree.SubElement(ack, "{urn:hl7-org:v3}acknowledgementDetail")
    etree.SubElement(detail, "{urn:hl7-org:v3}code", code="ERR_VIHF")
    etree.SubElement(detail, "{urn:hl7-org:v3}text").text = "Structure inconnue"
    with pytest.raises(Permanent) as caught:
        parse_td02_response(answer).to_status()
    assert (caught.value.code, caught.value.context) == ("ERR_VIHF", "Structure inconnue")


def test_td02_dmpclosed_detail_means_closed_even_on_ae(td02_answer):
    from dmp_gateway.dmp.types import DmpStatus

    answer = td02_answer(DmpStatus(DmpState.CLOSED, closed_reason="Demande du patient"))
    answer.find("{urn:hl7-org:v3}acknowledgement").set("typeCode", "AE")
    status = parse_td02_response(answer).to_status()
    assert status.state is DmpState.CLOSED and status.closed_reason == "Demande du patient"
    with pytest.raises(Exception) as caught:
        status.raise_for_state()
    assert type(caught.value).__name__ == "DmpClosed"


async def test_client_shards_take_turns_and_close_together():
    from dmp_gateway.dmp.transport import ClientShards

    seen: list[int] = []

    closed: list[int] = []

    class Answering:  # a connection pool's two methods, as httpcore.AsyncConnectionPool has them
        def __init__(self, n: int) -> None:
            self.n = n

        async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
            seen.append(self.n)
            assert dict(request.headers)[b"Host"] == b"dmp.test" and dict(request.headers)[b"Content-Length"] == b"0"
            return httpcore.Response(200, headers=[(b"Content-Type", b"text/xml")], content=b"<ok/>")

        async def aclose(self) -> None:
            closed.append(self.n)

    shards = ClientShards([Answering(0), Answering(1), Answering(2)])
    for _ in range(6):
        response = await shards.post("https://dmp.test/x", content=b"", headers={})
        assert (response.status_code, response.content) == (200, b"<ok/>")  # read whole before returning
        assert response.headers["content-type"] == "text/xml"
    assert seen == [0, 1, 2, 0, 1, 2]
    await shards.aclose()
    assert closed == [0, 1, 2]
    with pytest.raises(ValueError):
        ClientShards([])
