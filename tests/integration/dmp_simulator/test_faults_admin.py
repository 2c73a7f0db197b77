"""Fault injection through /_sim/faults, counted in /_sim/stats; in-process drops surface as httpx errors."""

from __future__ import annotations

import httpx
import pytest

from dmp_gateway.dmp import namespaces as ns
from dmp_gateway.dmp_simulator import rejections as codes
from dmp_gateway.dmp_simulator.testkit.messages import Iti41Spec, build_iti41, td02_request


async def _faults(client, **plan):
    response = await client.post("/_sim/faults", json=plan)
    assert response.status_code == 200, response.text
    return response.json()


async def _count_of(client, unique_id):
    return len((await client.get("/_sim/documents", params={"unique_id": unique_id})).json()["documents"])


async def test_scripted_faults_then_normal_service(pki, cda_template, send, client):
    await _faults(client, next=["busy", "http_500", "soap_fault"], services=["repository"])
    request = build_iti41(pki, cda_template)

    busy = await send(request)
    error = await send(request)
    fault = await send(request)
    served = await send(request)

    assert busy.error_codes == [codes.REPOSITORY_BUSY] and busy.http.status_code == 200
    assert error.http.status_code == 500 and error.envelope is None
    assert fault.http.status_code == 500 and fault.fault_code == "soap:Receiver"
    assert served.success
    stats = (await client.get("/_sim/stats")).json()
    assert stats["faults"] == {"busy": 1, "http_500": 1, "soap_fault": 1}
    assert stats["requests"]["repository"] == 4 and stats["iti41"]["accepted"] == 1
    assert await _count_of(client, request.spec.document_uid) == 1


async def test_faults_only_hit_the_services_named(pki, send, client):
    await _faults(client, http_500=1.0, services=["repository"])
    answer = await send(td02_request(pki, "279035121518989"))
    assert answer.http.status_code == 200


async def test_drop_in_process_raises_the_httpx_disconnect_error(pki, cda_template, send, client):
    await _faults(client, next=["drop"])
    request = build_iti41(pki, cda_template)
    with pytest.raises(httpx.RemoteProtocolError):
        await send(request)
    assert await _count_of(client, request.spec.document_uid) == 0


async def test_timeout_in_process_raises_read_timeout(pki, cda_template, send, client):
    await _faults(client, next=["timeout"])
    with pytest.raises(httpx.ReadTimeout):
        await send(build_iti41(pki, cda_template))


@pytest.mark.parametrize(
    "mode, seen",
    [
        ("drop", None),
        ("busy", lambda a: a.error_codes == [codes.REPOSITORY_BUSY]),
        ("soap_fault", lambda a: a.http.status_code == 500 and a.fault_code == "soap:Receiver"),
        ("http_500", lambda a: a.http.status_code == 500 and a.envelope is None),
    ],
)
async def test_commit_then_fail_stores_the_document_and_loses_the_answer(mode, seen, pki, cda_template, send, client):
    await _faults(client, next=["commit_then_fail"], commit_then_fail_mode=mode)
    spec = Iti41Spec()
    if seen is None:
        with pytest.raises(httpx.RemoteProtocolError):
            await send(build_iti41(pki, cda_template, spec))
    else:
        assert seen(await send(build_iti41(pki, cda_template, spec)))
    assert await _count_of(client, spec.document_uid) == 1
    retry = await send(build_iti41(pki, cda_template, Iti41Spec(document_uid=spec.document_uid)))
    assert retry.error_codes == [codes.DUPLICATE_UNIQUE_ID_IN_REGISTRY]
    assert (await client.get("/_sim/stats")).json()["faults"]["commit_then_fail"] == 1


async def test_seeded_rates_are_repeatable(pki, send, client):
    async def run() -> list[int]:
        await _faults(client, seed=7, http_500=0.5, services=["patients"])
        message = td02_request(pki, "279035121518989")
        return [(await send(message)).http.status_code for _ in range(12)]

    first, second = await run(), await run()
    assert first == second and set(first) == {200, 500}


async def test_latency_is_added_and_counted(pki, send, client):
    await _faults(client, latency_ms=[1, 2], services=["patients"])
    await send(td02_request(pki, "279035121518989"))
    assert (await client.get("/_sim/stats")).json()["faults"]["latency"] == 1


@pytest.mark.parametrize(
    "plan, field",
    [({"busy": 1.5}, "busy"), ({"busy": 0.6, "drop": 0.6}, "(body)"), ({"next": ["explode"]}, "next.0"),
     ({"latency_ms": [5, 1]}, "(body)"), ({"surprise": 1}, "surprise")],
)
async def test_invalid_fault_plan_names_the_field(plan, field, client):
    response = await client.post("/_sim/faults", json=plan)
    assert response.status_code == 422
    assert field in [e["field"] for e in response.json()["errors"]]


async def test_reset_forgets_documents_counters_and_faults(pki, cda_template, make_config, database_url):
    from dmp_gateway.dmp_simulator import create_app

    app = create_app(make_config(database_url=database_url))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as client:
            body, content_type = build_iti41(pki, cda_template).to_http()
            await client.post("/si-dmp-server/v2/services/repository", content=body, headers={"content-type": content_type})
            await _faults(client, busy=1.0)
            assert (await client.get("/_sim/stats")).json()["documents"] == 1
            await client.post("/_sim/reset")
            stats = (await client.get("/_sim/stats")).json()
            assert stats == {"requests": {}, "faults": {}, "iti41": {}, "documents": 0}
            assert (await client.get("/_sim/faults")).json()["busy"] == 0
    finally:
        await app.state.simulator.aclose()


async def test_health_says_what_is_checked(client):
    health = (await client.get("/_sim/health")).json()
    assert health["status"] == "ok" and health["cda_xsd"] and health["metadata_xsd"] and health["trusted_certificates"] == 1


async def test_busy_on_the_registry_is_a_query_failure(pki, send, client):
    from dmp_gateway.dmp_simulator.testkit.messages import iti18_request

    await _faults(client, next=["busy"], services=["registry"])
    answer = await send(iti18_request(pki, "279035121518989^^^&1.2.250.1.213.1.4.10&ISO^NH", unique_ids=["1.2.3"]))
    assert answer.body.tag == ns.qname(ns.QUERY, "AdhocQueryResponse") and answer.error_codes == ["XDSRegistryBusy"]
