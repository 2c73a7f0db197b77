"""The whole delivery state machine in one place: states, events, and the allowed transitions.

    received ──created(immediate)──────────────► queued
        └─────created(needs validation)──► awaiting_validation ──send──► queued
    queued ──start──► checking_dmp ──dmp_open──► building_cda ──cda_built──► submitting
                            │  (CDA already built on a retry: dmp_open_cda_ready → submitting)
    submitting ──accepted──► delivered
    any working state ──permanent──► failed        ──transient──► retry_scheduled ──start──► checking_dmp
    failed ──retry──► queued            awaiting_validation | failed | retry_scheduled ──cancel──► cancelled

Terminal: delivered, cancelled. `failed` is at rest: it waits for an operator's `$retry` or `$cancel`.
"""

from __future__ import annotations

from enum import Enum


class State(str, Enum):
    #: Stored, not yet routed.
    RECEIVED = "received"
    #: Without IMMEDIATE_MODE: waits for an operator ($send or the console).
    AWAITING_VALIDATION = "awaiting_validation"
    #: A job is enqueued.
    QUEUED = "queued"
    #: TD0.2: does the patient have an open DMP?
    CHECKING_DMP = "checking_dmp"
    #: Building the CDA (once per request; kept for every retry).
    BUILDING_CDA = "building_cda"
    #: ITI-41 under way.
    SUBMITTING = "submitting"
    #: The DMP holds the document. Terminal.
    DELIVERED = "delivered"
    #: Permanent failure: waits for the data to be fixed and $retry, or $cancel.
    FAILED = "failed"
    #: Transient failure: another attempt is scheduled.
    RETRY_SCHEDULED = "retry_scheduled"
    #: Withdrawn by an operator. Terminal.
    CANCELLED = "cancelled"


class Event(str, Enum):
    CREATED_IMMEDIATE = "created_immediate"
    CREATED_NEEDS_VALIDATION = "created_needs_validation"
    SEND = "send"
    START = "start"
    DMP_OPEN = "dmp_open"
    DMP_OPEN_CDA_READY = "dmp_open_cda_ready"
    CDA_BUILT = "cda_built"
    ACCEPTED = "accepted"
    PERMANENT = "permanent"
    TRANSIENT = "transient"
    RETRY = "retry"
    CANCEL = "cancel"


WORKING = (State.CHECKING_DMP, State.BUILDING_CDA, State.SUBMITTING)
TERMINAL = frozenset({State.DELIVERED, State.CANCELLED})

TRANSITIONS: dict[tuple[State, Event], State] = {
    (State.RECEIVED, Event.CREATED_IMMEDIATE): State.QUEUED,
    (State.RECEIVED, Event.CREATED_NEEDS_VALIDATION): State.AWAITING_VALIDATION,
    (State.AWAITING_VALIDATION, Event.SEND): State.QUEUED,
    (State.QUEUED, Event.START): State.CHECKING_DMP,
    (State.RETRY_SCHEDULED, Event.START): State.CHECKING_DMP,
    # A worker killed mid-step leaves a working state behind; its job is retried from the start.
    **{(s, Event.START): State.CHECKING_DMP for s in WORKING},
    (State.CHECKING_DMP, Event.DMP_OPEN): State.BUILDING_CDA,
    (State.CHECKING_DMP, Event.DMP_OPEN_CDA_READY): State.SUBMITTING,
    (State.BUILDING_CDA, Event.CDA_BUILT): State.SUBMITTING,
    (State.SUBMITTING, Event.ACCEPTED): State.DELIVERED,
    **{(s, Event.PERMANENT): State.FAILED for s in WORKING},
    **{(s, Event.TRANSIENT): State.RETRY_SCHEDULED for s in WORKING},
    (State.FAILED, Event.RETRY): State.QUEUED,
    (State.AWAITING_VALIDATION, Event.CANCEL): State.CANCELLED,
    (State.FAILED, Event.CANCEL): State.CANCELLED,
    (State.RETRY_SCHEDULED, Event.CANCEL): State.CANCELLED,
}


class IllegalTransition(Exception):
    """The event does not apply to the delivery's current state."""

    def __init__(self, state: State, event: Event) -> None:
        super().__init__(f"cannot {event.value.replace('_', ' ')} a delivery that is {state.value.replace('_', ' ')}")
        self.state, self.event = state, event


def next_state(state: State, event: Event) -> State:
    """The state after `event`, or IllegalTransition."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransition(state, event) from None


def target_of(event: Event) -> State:
    """The state `event` leads to: one per event, whatever the source (a test checks it)."""
    targets = {t for (_, e), t in TRANSITIONS.items() if e is event}
    if len(targets) != 1:  # pragma: no cover - guarded by tests/unit/delivery/test_states.py
        raise ValueError(f"event {event.value} leads to several states: {targets}")
    return targets.pop()


def sources_of(event: Event) -> tuple[State, ...]:
    """The states from which `event` is allowed (for compare-and-set updates in the store)."""
    return tuple(s for (s, e) in TRANSITIONS if e is event)
