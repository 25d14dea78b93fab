"""The transition rules as data: pure, no database."""

from __future__ import annotations

import pytest

from poiesis import states
from poiesis.states import State


@pytest.mark.parametrize("terminal", sorted(states.TERMINAL))
def test_terminal_states_are_left_for_nothing(terminal):
    """No state, terminal or not, may be entered from a terminal state."""
    assert not any(states.can_transition(terminal, target) for target in State)


@pytest.mark.parametrize(
    ("frm", "to", "allowed"),
    [
        ("QUEUED", "INITIALIZING", True),
        ("QUEUED", "RUNNING", True),
        ("INITIALIZING", "RUNNING", True),
        ("RUNNING", "INITIALIZING", False),
        ("RUNNING", "QUEUED", False),
        ("RUNNING", "CANCELING", True),
        ("CANCELING", "RUNNING", False),
        ("CANCELING", "COMPLETE", True),
        ("QUEUED", "SYSTEM_ERROR", True),
        ("QUEUED", "UNKNOWN", False),
    ],
)
def test_can_transition(frm, to, allowed):
    """Forward moves are allowed, backward ones and moves out of CANCELING (but to an end) are not."""
    assert states.can_transition(frm, to) is allowed


@pytest.mark.parametrize(
    ("current", "requested", "landed"),
    [
        ("RUNNING", "COMPLETE", "COMPLETE"),
        ("QUEUED", "SYSTEM_ERROR", "SYSTEM_ERROR"),
        ("CANCELING", "COMPLETE", "CANCELED"),
        ("CANCELING", "EXECUTOR_ERROR", "CANCELED"),
        ("COMPLETE", "SYSTEM_ERROR", "COMPLETE"),
        ("CANCELED", "COMPLETE", "CANCELED"),
    ],
)
def test_landing_state(current, requested, landed):
    """A terminal write keeps a terminal row, turns CANCELING into CANCELED, else lands as asked."""
    assert states.landing_state(current, requested) == landed


def test_landing_state_refuses_a_non_terminal_request():
    """Only terminal states are written by a terminal write."""
    with pytest.raises(ValueError, match="not a terminal state"):
        states.landing_state("QUEUED", "RUNNING")
