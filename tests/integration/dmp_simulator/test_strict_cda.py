"""--strict-cda: the structuration-minimale schematron (ANS kit) also judges every CDA."""

from __future__ import annotations

import httpx
import pytest

from dmp_gateway.dmp_simulator import create_app
from dmp_gateway.dmp_simulator.rejections import INVALID_DOCUMENT_CONTENT
from dmp_gateway.dmp_simulator.testkit.answers import read_answer
from dmp_gateway.dmp_simulator.testkit.messages import Iti41Spec, build_iti41, reference_cda

pytest.importorskip("saxonche")


def _without_title(template, spec) -> bytes:
    cda = reference_cda(template, unique_id=spec.document_uid, ins=spec.ins)
    start = cda.index(b"<title>")
    return cda[:start] + cda[cda.index(b"</title>") + len(b"</title>"):]


async def _post(app, request):
    body, content_type = request.to_http()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as client:
        response = await client.post("/si-dmp-server/v2/services/repository", content=body, headers={"content-type": content_type})
    return read_answer(response)


async def test_schematron_error_is_refused_only_in_strict_mode(make_config, pki, cda_template):
    strict = create_app(make_config(strict_cda=True))
    lenient = create_app(make_config())
    try:
        spec = Iti41Spec()
        broken = build_iti41(pki, cda_template, spec, cda=_without_title(cda_template, spec))
        answer = await _post(strict, broken)
        assert answer.error_codes == [INVALID_DOCUMENT_CONTENT]
        assert "schematron" in answer.contexts[0]

        assert (await _post(strict, build_iti41(pki, cda_template))).success  # the same message, fixed

        spec = Iti41Spec()
        answer = await _post(lenient, build_iti41(pki, cda_template, spec, cda=_without_title(cda_template, spec)))
        assert answer.success, answer.contexts
    finally:
        await strict.state.simulator.aclose()
        await lenient.state.simulator.aclose()
