"""A signed VIHF serves several calls about one patient for a while, then is signed again.

The peer verifies every VIHF it receives (FakeDmpPeer), so a reused assertion that no longer
verified inside a new envelope would fail these tests.
"""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from dmp_gateway.dmp.client import SoapDmp
from dmp_gateway.dmp.memory import InMemoryDmp
from dmp_gateway.ins import Ins

from .conftest import FakeDmpPeer, connector_config

OTHER = Ins("182126307104211", "1.2.250.1.213.1.4.10")
T0 = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


def _port(signer, pki, *, reuse: float) -> tuple[SoapDmp, FakeDmpPeer, Clock]:
    peer = FakeDmpPeer(InMemoryDmp(), str(pki.ca_cert))
    clock = Clock()
    port = SoapDmp(client=httpx.AsyncClient(transport=httpx.MockTransport(peer)),
                   config=connector_config(vihf_reuse_seconds=reuse), signer=signer, clock=clock)
    return port, peer, clock


def _assertion_ids(peer: FakeDmpPeer) -> list[str]:
    return [envelope.security.get("ID") for envelope in peer.envelopes]


async def test_one_signature_serves_status_and_submission_of_a_patient(signer, pki, kit_ins, make_submission):
    port, peer, _ = _port(signer, pki, reuse=300)
    await port.dmp_status(kit_ins)
    await port.submit(make_submission())
    ids = _assertion_ids(peer)
    assert len(ids) == 2 and ids[0] == ids[1]


async def test_each_patient_has_its_own_vihf(signer, pki, kit_ins):
    port, peer, _ = _port(signer, pki, reuse=300)
    await port.dmp_status(kit_ins)
    await port.dmp_status(OTHER)
    await port.dmp_status(kit_ins)
    first, other, again = _assertion_ids(peer)
    assert first != other and again == first


async def test_a_vihf_older_than_the_reuse_window_is_signed_again(signer, pki, kit_ins):
    port, peer, clock = _port(signer, pki, reuse=300)
    await port.dmp_status(kit_ins)
    clock.now = T0 + dt.timedelta(seconds=299)
    await port.dmp_status(kit_ins)
    clock.now = T0 + dt.timedelta(seconds=300)
    await port.dmp_status(kit_ins)
    first, reused, fresh = _assertion_ids(peer)
    assert reused == first and fresh != first
    assert peer.envelopes[-1].security.get("IssueInstant") == "2026-11-25T10:05:00.000Z"


@pytest.mark.parametrize("reuse", [0])
async def test_reuse_can_be_turned_off(signer, pki, kit_ins, reuse):
    port, peer, _ = _port(signer, pki, reuse=reuse)
    await port.dmp_status(kit_ins)
    await port.dmp_status(kit_ins)
    first, second = _assertion_ids(peer)
    assert first != second
