import random

from hypothesis import given, strategies as st

from dmp_gateway.delivery.retry import RetryPolicy


def test_defaults_spread_eight_attempts_over_about_two_hours():
    policy = RetryPolicy(jitter=0.0)
    total = sum(policy.delay(n).total_seconds() for n in range(1, 8))
    assert 1.5 * 3600 <= total <= 2.5 * 3600
    assert policy.exhausted(8) and not policy.exhausted(7)


@given(st.integers(1, 50), st.integers(0, 2**32))
def test_delay_is_bounded_and_jittered(attempts, seed):
    policy = RetryPolicy(rng=random.Random(seed))
    delay = policy.delay(attempts).total_seconds()
    assert 0 <= delay <= policy.max_delay * (1 + policy.jitter)
