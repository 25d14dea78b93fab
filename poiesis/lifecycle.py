"""Every system log line, state step and terminal state a backend writes about a task, worded once.

The local backend (``local.runner``, ``local.scheduler``) and the Kubernetes one
(``kube.outcome``, ``tctl.reconcile``, ``record``) both say why a task ended by
calling these functions, so the same event gives the same line whichever backend
ran the task (tests/test_lifecycle.py runs the same events through both). Each
function returns an ``End``: the terminal state and the lines that travel with the
terminal write. Lines are one line of at most ``MESSAGE_LIMIT`` characters
(``clip``). The list, with which backend can meet each event, is in
docs/architecture.md ("What a task's system log says").

Pure: no I/O. In the bottom layer, beside ``states``, so that ``kube`` may use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

from poiesis.parameters import Refused
from poiesis.sanitize import storable
from poiesis.states import State, is_terminal

MESSAGE_LIMIT = 500

#: the states a task never leaves (``states.TERMINAL``), as a type
TerminalState = Literal[State.COMPLETE, State.EXECUTOR_ERROR, State.SYSTEM_ERROR, State.CANCELED, State.PREEMPTED]
#: which filer: ``in`` fetches inputs (TIF), ``out`` uploads outputs (TOF)
Direction = Literal["in", "out"]
_FILERS: dict[Direction, str] = {"in": "input filer", "out": "output filer"}
#: the exit code of ``poiesis filer`` when it failed by itself, its reason in the termination log (kube.outcome
#: words that reason as ``filer_failed``; any other exit is said with its code)
FILER_FAILED_EXIT = 1


#: the steps of a task that has not ended, in order, in both backends: INITIALIZING when its work
#: begins (local: the runner takes it; Kubernetes: the Pod is scheduled or a container started),
#: RUNNING at its first executor's start (the task's start time)
STEPS: tuple[State, ...] = (State.INITIALIZING, State.RUNNING)


def steps(reached: str | None, target: State) -> tuple[State, ...]:
    """The steps to write, in order, to bring a task at step ``reached`` (None: none yet) to ``target``.

    Every step in between is written too (a task is INITIALIZING before it is RUNNING); none
    already reached, none backwards.
    """
    start = STEPS.index(State(reached)) + 1 if reached is not None else 0
    return STEPS[start : STEPS.index(target) + 1]


@dataclass(frozen=True)
class End:
    """How a task ends: its terminal state and the system log lines saying why."""

    state: TerminalState
    lines: tuple[str, ...] = ()


def clip(text: str) -> str:
    """One line of at most MESSAGE_LIMIT characters, for the system log; storable (``sanitize``): no NUL, UTF-8."""
    text = " ".join(storable(text, 4 * MESSAGE_LIMIT + 4).split())
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def _error(state: TerminalState, line: str) -> End:
    return End(state, (clip(line),))


# -- both backends ---------------------------------------------------------------


def completed() -> End:
    """Every executor ran (or failed with ignore_error) and the outputs are up."""
    return End(State.COMPLETE)


#: the line of every cancelled task, in both backends
CANCELLED_LOG = "the task was cancelled (CancelTask)"


def cancelled(during: End | None = None) -> End:
    """A CancelTask stopped the task: ``CANCELLED_LOG``, then the lines of the end it interrupted (``during``).

    The store lands any end written on a CANCELING task as CANCELED with that end's lines; a
    backend that knows the task was cancelling writes this end instead (``record``, ``local.runner``).
    An end the cancel itself caused (the Kubernetes Pod deleted by it) is no ``during``.
    """
    extra = tuple(line for line in during.lines if line != CANCELLED_LOG) if during is not None else ()
    return End(State.CANCELED, (CANCELLED_LOG, *extra))


def ended_as(state: str) -> End:
    """The task was ended by another writer (it holds ``state`` already); ValueError for an active state."""
    if not is_terminal(state):
        raise ValueError(f"{state} is not a terminal state")
    return End(cast(TerminalState, State(state)))


def executor_failed(index: int, exit_code: int) -> End:
    """Executor ``index`` exited non-zero without ignore_error."""
    return _error(State.EXECUTOR_ERROR, f"executor #{index} exited with code {exit_code}")


def time_limit_reached(seconds: int) -> End:
    """The task ran longer than its time limit (``poiesis.scheduling``) and was stopped: the task's own doing.

    EXECUTOR_ERROR, not SYSTEM_ERROR: the task asked for (or was given) that time and used
    it up; run again unchanged it would end the same way (docs/local.md, docs/kubernetes.md).
    """
    return _error(State.EXECUTOR_ERROR, f"the task reached its time limit of {seconds}s and was stopped")


def filer_failed(direction: Direction, reason: str) -> End:
    """Fetching the inputs (``in``) or uploading the outputs (``out``) failed; ``reason`` is the filer's, redacted."""
    return _error(State.SYSTEM_ERROR, f"{_FILERS[direction]} failed: {reason}")


#: the output filer reported success but its output file logs cannot be read (added to a COMPLETE end)
OUTPUTS_MISSING = "the output filer succeeded but wrote no outputs.json; output file logs are missing"


#: a COMPLETE end of a task that declared outputs, recorded by a writer that cannot read the task volume (TCtl,
#: when TRec could not record the end): the output filer listed them there (outputs.json), so they are not in
#: the task (added to the end's lines)
OUTPUTS_NOT_RECORDED = ("the task's end was recorded without access to the task volume; the output file logs "
                        "the output filer listed there were not recorded")


def outputs_unreadable(reason: str) -> str:
    """The output filer's outputs.json is there but cannot be used (a link, too large, not the expected JSON)."""
    return clip(f"the output filer's outputs.json cannot be used: {reason}; output file logs are missing")


def stream_not_read(stream: str, index: int) -> str:
    """Executor ``index``'s redirected ``stream`` file is a link, FIFO or other special file: not read (not an end)."""
    return clip(f"{stream} of executor #{index} is not a regular file; not read")


def write_refused(what: str, error: BaseException) -> str:
    """The database refused a write for the data it carried (``what``: the log left out); its type only."""
    return clip(f"{what} was refused by the database ({type(error).__name__}); not stored")


# -- the local backend -----------------------------------------------------------


def task_vanished() -> End:
    """The task's row disappeared while the backend ran it."""
    return _error(State.SYSTEM_ERROR, "task vanished")


def unmappable(reason: str) -> End:
    """The task's input, output or volume paths cannot be laid out (``layout.mounts``)."""
    return _error(State.SYSTEM_ERROR, f"cannot map the task's paths: {reason}")


def executor_refused(index: int, reason: str) -> End:
    """Executor ``index`` cannot start as written (its workdir or stdio path is unsafe or missing)."""
    return _error(State.EXECUTOR_ERROR, f"executor #{index}: {reason}")


def executor_not_run(index: int, problem: str) -> End:
    """Executor ``index`` cannot be given to the container engine (its image is no valid reference, its env
    does not fit an env file): the task ends before anything runs."""
    return _error(State.SYSTEM_ERROR, f"executor #{index}: not run: {problem}")


def engine_failed(index: int, engine: str, error: str) -> End:
    """The container engine could not run executor ``index`` (no such image, bad option…): not the executor's fault."""
    return _error(State.SYSTEM_ERROR, f"executor #{index}: {engine} could not run it: {error}")


def backend_failed(error: BaseException) -> End:
    """An unexpected exception in the backend (its type only: the message may hold secrets)."""
    return _error(State.SYSTEM_ERROR, f"local backend failure: {type(error).__name__}")


def submission_failed(backend: str, error: BaseException) -> End:
    """Handing a stored task to its backend failed: the backend's own check of its backend_parameters
    (the settings narrowed since CreateTask) says which; anything else only its type (secrets)."""
    if isinstance(error, Refused):
        return _error(State.SYSTEM_ERROR, f"not run: {error}")
    return _error(State.SYSTEM_ERROR, f"submission to the {backend} backend failed: {type(error).__name__}")


#: every task of a server that stopped with tasks running ends SYSTEM_ERROR with this line at the next start
RESTART_LOG = "the server stopped while this task was active; the local backend does not resume a started task"
#: a task running when the server shuts down (the runner ends it SYSTEM_ERROR with this line)
SHUTDOWN_LOG = "the server shut down while this task was running"
#: added (not an end) to every task of a local backend in process mode
PROCESS_MODE_LOG = (
    "local backend in process mode: executors run as host processes; their images are not"
    " used and they are not isolated from the host or from each other"
)
#: added (not an end) when process mode has no mount namespace
NO_PRIVATE_MOUNTS_LOG = "no mount namespace here: executors share the server's /proc and /tmp (see docs/security.md)"


def aborted(line: str) -> End:
    """The backend stopped the task for its own reason (``SHUTDOWN_LOG``, ``RESTART_LOG``)."""
    return _error(State.SYSTEM_ERROR, line)


# -- the Kubernetes backend ------------------------------------------------------


def pod_deleted() -> End:
    """The task's Pod was deleted (or killed by its deletion) before the task ended."""
    return _error(State.SYSTEM_ERROR, "the task's Pod was deleted before the task finished")


def pod_failed(reason: str, message: str) -> End:
    """The node ended the Pod with no container saying why (Evicted, DeadlineExceeded…)."""
    return _error(State.SYSTEM_ERROR, f"the Pod failed: {reason} {message}".strip())


def pod_preempted(message: str) -> End:
    """The scheduler preempted the Pod for a higher-priority one."""
    return _error(State.PREEMPTED, f"the Pod was preempted: {message}")


def pod_waited(timeout_s: float, reason: str) -> End:
    """TCtl stopped a Pod that waited longer than the pending timeout (``reason``: what it waited for)."""
    return _error(State.SYSTEM_ERROR, f"the task's Pod waited more than {timeout_s:g}s and was stopped: {reason}")


def job_refused(failure: str) -> End:
    """The Job controller cannot create the Pod (an admission plugin refused it)."""
    return _error(State.SYSTEM_ERROR, f"the task's Job could not create its Pod: {failure}")


def job_gone() -> End:
    """An INITIALIZING or RUNNING task has neither Job nor Pod."""
    return _error(State.SYSTEM_ERROR, "the task's Job and Pod are gone")


def job_ended_without_pod(why: str) -> End:
    """The Job finished (Failed, Complete) and its Pod is gone."""
    return _error(State.SYSTEM_ERROR, f"the task's Job ended without a Pod: {why}")


def job_made_no_pod(timeout_s: float, failure: str | None) -> End:
    """The Job made no Pod within the pending timeout (``failure``: its last FailedCreate message, if any)."""
    line = f"the task's Job made no Pod within {timeout_s:g}s"
    return _error(State.SYSTEM_ERROR, f"{line}: {failure}" if failure is not None else line)
