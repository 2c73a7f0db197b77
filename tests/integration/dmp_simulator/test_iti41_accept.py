"""A valid ITI-41 is accepted, stored once, and visible through /_sim/documents."""

from __future__ import annotations

import hashlib

from dmp_gateway.dmp import namespaces as ns
from dmp_gateway.dmp_simulator.testkit.messages import build_iti41


async def test_valid_submission_is_accepted_and_stored(pki, cda_template, send, client):
    request = build_iti41(pki, cda_template)

    answer = await send(request)

    assert answer.success, (answer.error_codes, answer.contexts)
    assert answer.http.headers["content-type"].startswith("multipart/related")
    assert answer.header("Action") == ns.ACTION_ITI41_RESPONSE
    assert answer.header("RelatesTo") == request.message.header.findtext(ns.qname(ns.WSA, "MessageID"))
    listed = (await client.get("/_sim/documents", params={"unique_id": request.spec.document_uid})).json()["documents"]
    assert [(d["patient"], d["hash"], d["size"]) for d in listed] == [
        ("279035121518989", hashlib.sha1(request.cda).hexdigest().upper(), len(request.cda))
    ]
    cda = await client.get(listed[0]["cda_url"])
    assert cda.content == request.cda
