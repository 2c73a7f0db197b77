import pytest

from dmp_gateway.delivery.states import TERMINAL, TRANSITIONS, Event, IllegalTransition, State, next_state


def test_happy_path():
    state = State.RECEIVED
    for event in (Event.CREATED_IMMEDIATE, Event.START, Event.DMP_OPEN, Event.CDA_BUILT, Event.ACCEPTED):
        state = next_state(state, event)
    assert state is State.DELIVERED


def test_terminal_states_accept_nothing():
    for (state, _event) in TRANSITIONS:
        assert state not in TERMINAL


@pytest.mark.parametrize("state,event", [(State.DELIVERED, Event.RETRY), (State.QUEUED, Event.ACCEPTED),
                                          (State.CANCELLED, Event.SEND), (State.AWAITING_VALIDATION, Event.START)])
def test_illegal_transitions_are_refused_with_words(state, event):
    with pytest.raises(IllegalTransition, match="cannot"):
        next_state(state, event)


def test_every_state_is_reachable():
    reached = {State.RECEIVED} | set(TRANSITIONS.values())
    assert reached == set(State)


def test_each_event_leads_to_one_state_whatever_the_source():
    from dmp_gateway.delivery.states import target_of
    for event in Event:
        if event in {e for (_, e) in TRANSITIONS}:
            assert all(t is target_of(event) for (_, e), t in TRANSITIONS.items() if e is event)
