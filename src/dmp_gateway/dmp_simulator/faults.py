"""Fault injection as data: what goes wrong, how often, counted, with a seedable RNG for repeatable tests.

A plan (JSON, `POST /_sim/faults` or `SimulatorConfig.faults`) holds rates in [0, 1] drawn once per request
in this order: latency (always applied when set), then one of http_500 / soap_fault / busy / drop / timeout,
then, for an accepted ITI-41 only, commit_then_fail (the documents are stored, then the answer is lost or an
error: how a lost response looks to the gateway, dmp-interfaces.md §9). `next` scripts the coming requests
one by one before any rate applies, e.g. `["busy", "busy"]` then normal service.

What was injected is counted by the simulator's state (state.py: in memory, or in PostgreSQL when several
worker processes share one plan).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Rate = Annotated[float, Field(ge=0.0, le=1.0)]
Service = Literal["patients", "repository", "registry"]


class Fault(str, Enum):
    """What can go wrong with one request."""

    NONE = "none"  #: served normally (useful in `next` scripts)
    HTTP_500 = "http_500"  #: HTTP 500 with a plain-text body, no SOAP
    SOAP_FAULT = "soap_fault"  #: HTTP 500 with a SOAP 1.2 Fault env:Receiver
    BUSY = "busy"  #: RegistryResponse Failure XDSRepositoryBusy (transient)
    DROP = "drop"  #: the connection is closed without an answer
    TIMEOUT = "timeout"  #: no answer for `timeout_seconds`, then the connection is closed
    COMMIT_THEN_FAIL = "commit_then_fail"  #: store the documents, then fail as `commit_then_fail_mode`


#: Faults that replace the answer before anything is stored.
BEFORE = (Fault.HTTP_500, Fault.SOAP_FAULT, Fault.BUSY, Fault.DROP, Fault.TIMEOUT)


class FaultPlan(BaseModel):
    """The fault configuration in force (every field optional; all zero = a healthy DMP)."""

    model_config = ConfigDict(extra="forbid")

    #: Seed of the RNG; setting it (again) restarts the random sequence.
    seed: int | None = None
    #: Added latency in ms: a number, or `[min, max]` for a uniform random delay.
    latency_ms: float | tuple[float, float] = 0.0
    http_500: Rate = 0.0
    soap_fault: Rate = 0.0
    busy: Rate = 0.0
    drop: Rate = 0.0
    timeout: Rate = 0.0
    timeout_seconds: float = Field(default=30.0, gt=0)
    commit_then_fail: Rate = 0.0
    commit_then_fail_mode: Literal["drop", "timeout", "http_500", "soap_fault", "busy"] = "drop"
    #: Endpoints the faults apply to (the `/_sim` admin routes never fail).
    services: list[Service] = Field(default_factory=lambda: ["patients", "repository", "registry"])
    #: Scripted faults for the next requests to `services`, consumed in order before the rates apply.
    next: list[Fault] = Field(default_factory=list)

    @model_validator(mode="after")
    def _rates_fit(self) -> "FaultPlan":
        total = self.http_500 + self.soap_fault + self.busy + self.drop + self.timeout
        if total > 1.0 + 1e-9:
            raise ValueError(f"http_500 + soap_fault + busy + drop + timeout = {total:.3f} > 1")
        if isinstance(self.latency_ms, tuple):
            low, high = self.latency_ms
            if not 0 <= low <= high:
                raise ValueError("latency_ms [min, max] needs 0 <= min <= max")
        elif self.latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")
        return self


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do to one request."""

    delay_seconds: float = 0.0
    #: A fault that replaces the answer (before any processing), or None.
    before: Fault | None = None
    #: For an accepted ITI-41: how to fail after storing, or None.
    after_commit: Fault | None = None


class FaultInjector:
    """Draws decisions from the plan, with its own RNG (one per worker process)."""

    def __init__(self, plan: FaultPlan | None = None) -> None:
        self._rng = random.Random()
        self.plan = FaultPlan()
        self.configure(plan or FaultPlan())

    def configure(self, plan: FaultPlan) -> None:
        self.plan = plan.model_copy(deep=True)
        if plan.seed is not None:
            self._rng = random.Random(plan.seed)

    def decide(self, service: str) -> Decision:
        """The decision for one request, consuming this plan's own `next` script."""
        plan = self.plan
        if service not in plan.services:
            return Decision()
        return self.draw(plan.next.pop(0) if plan.next else None)

    def draw(self, scripted: Fault | None) -> Decision:
        """The decision for a request to a faulted service; `scripted` is its entry of the `next` script,
        if any (taken by the caller: from this plan, or from the script the worker processes share)."""
        plan = self.plan
        delay = self._delay()
        if scripted is not None:
            if scripted is Fault.COMMIT_THEN_FAIL:
                return Decision(delay, None, Fault(plan.commit_then_fail_mode))
            return Decision(delay, None if scripted is Fault.NONE else scripted, None)
        draw, threshold = self._rng.random(), 0.0
        for fault in BEFORE:
            threshold += getattr(plan, fault.value)
            if draw < threshold:
                return Decision(delay, fault, None)
        after = None
        if plan.commit_then_fail and self._rng.random() < plan.commit_then_fail:
            after = Fault(plan.commit_then_fail_mode)
        return Decision(delay, None, after)

    def _delay(self) -> float:
        latency = self.plan.latency_ms
        if isinstance(latency, tuple):
            return self._rng.uniform(*latency) / 1000.0
        return latency / 1000.0
