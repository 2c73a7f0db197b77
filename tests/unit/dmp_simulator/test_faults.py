from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from dmp_gateway.dmp_simulator.faults import Fault, FaultInjector, FaultPlan


def _sequence(plan: FaultPlan, n: int = 50) -> list:
    injector = FaultInjector(plan)
    return [injector.decide("repository") for _ in range(n)]


def test_same_seed_same_decisions():
    plan = FaultPlan(seed=42, busy=0.3, drop=0.1, commit_then_fail=0.2, latency_ms=(1, 5))
    assert _sequence(plan) == _sequence(plan)
    assert _sequence(plan) != _sequence(plan.model_copy(update={"seed": 43}))


def test_rates_are_roughly_respected():
    decisions = _sequence(FaultPlan(seed=1, busy=0.25, http_500=0.25), 2000)
    busy = sum(d.before is Fault.BUSY for d in decisions)
    errors = sum(d.before is Fault.HTTP_500 for d in decisions)
    assert 400 < busy < 600 and 400 < errors < 600


def test_script_comes_first_then_rates():
    injector = FaultInjector(FaultPlan(next=[Fault.DROP, Fault.NONE, Fault.COMMIT_THEN_FAIL], commit_then_fail_mode="busy"))
    first, second, third, fourth = (injector.decide("repository") for _ in range(4))
    assert first.before is Fault.DROP and second.before is None
    assert third.before is None and third.after_commit is Fault.BUSY
    assert fourth.before is None and fourth.after_commit is None


def test_other_services_are_untouched_and_keep_the_script():
    injector = FaultInjector(FaultPlan(next=[Fault.BUSY], services=["repository"], latency_ms=100))
    assert injector.decide("patients").before is None and injector.decide("patients").delay_seconds == 0
    assert injector.decide("repository").before is Fault.BUSY


def test_configure_does_not_consume_the_callers_plan():
    plan = FaultPlan(next=[Fault.BUSY])
    injector = FaultInjector(plan)
    injector.decide("registry")
    assert plan.next == [Fault.BUSY]


@pytest.mark.parametrize(
    "values", [{"busy": 1.2}, {"busy": 0.5, "drop": 0.6}, {"latency_ms": -1}, {"latency_ms": [3, 2]},
               {"timeout_seconds": 0}, {"services": ["elsewhere"]}, {"unknown": 1}],
)
def test_invalid_plans_are_refused(values):
    with pytest.raises(ValidationError):
        FaultPlan.model_validate(values)


@given(st.floats(0, 0.2), st.floats(0, 0.2), st.floats(0, 0.2), st.floats(0, 200), st.integers(0, 2**32))
def test_delay_and_faults_stay_in_range(busy, drop, timeout, latency, seed):
    plan = FaultPlan(seed=seed, busy=busy, drop=drop, timeout=timeout, latency_ms=(0, latency))
    for decision in _sequence(plan, 20):
        assert 0 <= decision.delay_seconds <= latency / 1000
        assert decision.before in (None, Fault.BUSY, Fault.DROP, Fault.TIMEOUT)
