"""TES task states and the rules for moving between them, as plain data.

Pure: no I/O. The store turns these rules into guarded UPDATEs; tests and
reconcilers ask them questions. A task never leaves a terminal state, and a
terminal write that meets CANCELING lands as CANCELED.
"""

from __future__ import annotations

from generated.models import TesState

# The enum itself comes from the OpenAPI document, so a new spec state shows up here.
State = TesState

TERMINAL: frozenset[State] = frozenset(
    {State.COMPLETE, State.EXECUTOR_ERROR, State.SYSTEM_ERROR, State.CANCELED, State.PREEMPTED}
)
ACTIVE: frozenset[State] = frozenset(
    {State.QUEUED, State.INITIALIZING, State.RUNNING, State.PAUSED, State.CANCELING}
)

# Non-terminal moves: target -> the states it may be entered from.
_FORWARD: dict[State, frozenset[State]] = {
    State.INITIALIZING: frozenset({State.QUEUED}),
    State.RUNNING: frozenset({State.QUEUED, State.INITIALIZING, State.PAUSED}),
    State.PAUSED: frozenset({State.RUNNING}),
    State.CANCELING: frozenset({State.QUEUED, State.INITIALIZING, State.RUNNING, State.PAUSED}),
}


def is_terminal(state: str) -> bool:
    """True for the five states a task never leaves."""
    return State(state) in TERMINAL


def sources(target: str) -> frozenset[State]:
    """The states from which a task may move to ``target``."""
    target = State(target)
    if target in TERMINAL:
        return ACTIVE
    return _FORWARD.get(target, frozenset())


def can_transition(frm: str, to: str) -> bool:
    """Whether a task in ``frm`` may be moved to ``to``."""
    return State(frm) in sources(to)


def landing_state(current: str, requested: str) -> str:
    """What a terminal write of ``requested`` leaves on a row now in ``current``.

    A terminal row keeps its state; CANCELING turns any terminal write into
    CANCELED; any other active row takes the requested state.
    """
    current, requested = State(current), State(requested)
    if requested not in TERMINAL:
        raise ValueError(f"{requested} is not a terminal state")
    if current in TERMINAL:
        return current.value
    if current is State.CANCELING:
        return State.CANCELED.value
    return requested.value
