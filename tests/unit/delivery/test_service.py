"""The use case with in-memory ports only: no I/O, no clock, no sleeps."""

from datetime import UTC, datetime

import pytest

from dmp_gateway.delivery import service
from dmp_gateway.delivery.memory import InMemoryDeliveryStore
from dmp_gateway.delivery.model import BuiltDocument, Reason
from dmp_gateway.delivery.ports import DocumentProblem
from dmp_gateway.delivery.retry import RetryPolicy
from dmp_gateway.delivery.states import IllegalTransition, State
from dmp_gateway.dmp import errors as dmp_errors
from dmp_gateway.dmp.memory import InMemoryDmp
from dmp_gateway.dmp.types import DmpState
from dmp_gateway.ins import Ins

INS = Ins("279035121518989", "1.2.250.1.213.1.4.10")
UID = "1.2.250.1.999.1.1.8121.4.1"


class FixedClock:
    def now(self):
        return datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


_CDA = None


def example_cda() -> tuple[bytes, str, Ins]:
    """A real CDA from the builder's examples (the in-memory DMP reads its header like the real one)."""
    global _CDA
    if _CDA is None:
        from dmp_gateway.cda.builder import build_cda
        from dmp_gateway.cda.examples import example_inputs
        inputs = example_inputs()
        _CDA = (build_cda(inputs), inputs.document.unique_id, inputs.patient.ins)
    return _CDA


class FakeDocuments:
    def __init__(self):
        self.builds = 0
        self.problem: DocumentProblem | None = None

    async def patient_ins(self, request_id):
        return example_cda()[2]

    async def build(self, request_id, unique_id):
        self.builds += 1
        if self.problem:
            raise self.problem
        cda, uid, ins = example_cda()
        return BuiltDocument(ins, cda, uid, None, {"action": "accepted"})


@pytest.fixture
def ports():
    return {"store": InMemoryDeliveryStore(), "dmp": InMemoryDmp(), "documents": FakeDocuments(),
            "clock": FixedClock(), "policy": RetryPolicy(max_attempts=3, base_delay=1, jitter=0)}


async def drain(ports):
    """Run every enqueued job (and the ones they enqueue) to the end."""
    while jobs := ports["store"].take_jobs():
        for rid in jobs:
            await service.process(rid, **ports)


async def test_delivered_once(ports):
    ports["store"].register("r1")
    await drain(ports)
    assert ports["store"].deliveries["r1"].state is State.DELIVERED
    assert ports["dmp"].unique_ids_for(example_cda()[2]) == [UID]


async def test_two_transient_faults_then_delivered_once_with_the_same_document(ports):
    ports["dmp"].fail_next(dmp_errors.Transient, times=2, operation="submit")
    ports["store"].register("r1")
    await drain(ports)
    assert ports["store"].deliveries["r1"].state is State.DELIVERED
    assert ports["documents"].builds == 1
    assert ports["dmp"].unique_ids_for(example_cda()[2]) == [UID]


async def test_lost_answer_is_settled_by_the_hash(ports):
    ports["dmp"].fail_next(dmp_errors.OutcomeUnknown, times=1, operation="submit")
    ports["store"].register("r1")
    await drain(ports)
    assert ports["store"].deliveries["r1"].state is State.DELIVERED
    assert ports["dmp"].unique_ids_for(example_cda()[2]) == [UID]
    assert "already in the DMP" in ports["store"].timelines["r1"][-1].details["note"]


async def test_retries_exhausted(ports):
    ports["dmp"].fail_next(dmp_errors.Transient, times=3, operation="submit")
    ports["store"].register("r1")
    await drain(ports)
    d = ports["store"].deliveries["r1"]
    assert d.state is State.FAILED and d.reason is Reason.DMP_UNAVAILABLE and "3 attempts" in d.reason_text


@pytest.mark.parametrize("state,reason", [(DmpState.CLOSED, Reason.DMP_CLOSED), (DmpState.NOT_FOUND, Reason.DMP_NOT_FOUND)])
async def test_dmp_state_fails_at_once(ports, state, reason):
    ports["dmp"].set_patient(example_cda()[2], state)
    ports["store"].register("r1")
    await drain(ports)
    assert ports["store"].deliveries["r1"].reason is reason
    assert ports["documents"].builds == 0


async def test_permanent_rejection_is_not_retried_and_keeps_the_dmp_code(ports):
    ports["dmp"].fail_next(dmp_errors.Permanent, times=1, operation="submit", code="XDSRepositoryMetadataError")
    ports["store"].register("r1")
    await drain(ports)
    d = ports["store"].deliveries["r1"]
    assert d.state is State.FAILED and d.reason is Reason.DMP_REJECTED
    assert ports["store"].outcomes["r1"][0].dmp_code == "XDSRepositoryMetadataError"


async def test_bad_data_fails_with_the_builders_words_then_retry_rebuilds_with_the_same_id(ports):
    ports["documents"].problem = DocumentProblem(Reason.CDA_INVALID, "Practitioner/12 has no RPPS identifier")
    ports["store"].register("r1")
    await drain(ports)
    assert "Practitioner/12 has no RPPS identifier" in ports["store"].deliveries["r1"].reason_text
    ports["documents"].problem = None
    await service.retry("r1", store=ports["store"], who="operator")
    await drain(ports)
    assert ports["store"].deliveries["r1"].state is State.DELIVERED


async def test_operator_actions_follow_the_state_machine(ports):
    ports["store"].register("r1", immediate=False)
    assert ports["store"].take_jobs() == []
    with pytest.raises(IllegalTransition):
        await service.retry("r1", store=ports["store"], who="op")
    await service.send("r1", store=ports["store"], who="op")
    await drain(ports)
    assert ports["store"].deliveries["r1"].state is State.DELIVERED
    with pytest.raises(IllegalTransition):
        await service.cancel("r1", store=ports["store"], who="op")


async def test_stale_jobs_do_nothing(ports):
    ports["store"].register("r1")
    await drain(ports)
    before = len(ports["store"].timelines["r1"])
    await service.process("r1", **ports)
    assert len(ports["store"].timelines["r1"]) == before


async def test_a_crash_mid_way_parks_the_delivery_as_internal_error(ports):
    class Boom(FakeDocuments):
        async def build(self, request_id, unique_id):
            raise RuntimeError("bug")

    ports["documents"] = Boom()
    ports["store"].register("r1")
    with pytest.raises(RuntimeError):
        await service.process("r1", **ports)
    await service.fail_unexpectedly("r1", RuntimeError("bug"), store=ports["store"], clock=ports["clock"])
    d = ports["store"].deliveries["r1"]
    assert d.state is State.FAILED and d.reason is Reason.INTERNAL_ERROR
    assert "bug" not in d.reason_text  # exception messages may quote patient data
