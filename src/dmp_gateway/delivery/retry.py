"""When to try again after a transient DMP failure: exponential backoff with full jitter.

Defaults (8 attempts, 60 s doubling, capped at 1 h) spread the attempts over about two hours, long
enough to ride out a DMP maintenance window, short enough for an operator to see the failure the
same morning. The only module that reads the retry settings.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_delay: float = 60.0
    max_delay: float = 3600.0
    #: Fraction of the delay drawn at random, so retries of many requests do not arrive together.
    jitter: float = 0.2
    rng: random.Random = random.Random()

    @classmethod
    def from_settings(cls, settings) -> "RetryPolicy":  # noqa: ANN001 - config.Settings
        return cls(settings.retry_max_attempts, settings.retry_base_delay_seconds, settings.retry_max_delay_seconds)

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.max_attempts

    def delay(self, attempts: int) -> timedelta:
        """Delay before attempt `attempts + 1` (attempts counts the ones already made, from 1)."""
        raw = min(self.max_delay, self.base_delay * 2 ** max(0, attempts - 1))
        spread = raw * self.jitter
        return timedelta(seconds=max(0.0, raw - spread + self.rng.random() * 2 * spread))
