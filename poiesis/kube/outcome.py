"""What an observed Pod means for its task: one pure function, used by TRec and TCtl.

``pod_outcome`` reads a Pod (a dict as the API server returns it) and sorts it
into one of four outcomes (``Outcome``): ``Ended`` (the terminal state and why,
the executors' ends, the task's times), ``Deleting`` (the Pod is going and the
task has not ended), ``Waiting`` (none of tif/executors/tof runs: why, and since
when) or ``Working`` (one of them runs). The three that have not ended carry how
far the task got (``Progress``: ``Initializing``, or ``Running`` with the
executors ended so far). It decides from container statuses, not only the phase:
the phase turns terminal only after the TRec sidecar stopped, and TRec must
record before that. The lines saying why a task ended are ``poiesis.lifecycle``'s.
Pure: no clock, no I/O. The table in docs/kubernetes.md mirrors this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal, assert_never, cast

from poiesis import lifecycle
from poiesis.kube.build import EXIT_CODE_PREFIX
from poiesis.lifecycle import End, clip
from poiesis.states import State

#: the kubelet's grace when the Pod spec names none
DEFAULT_GRACE_S = 30
_FILERS: dict[str, lifecycle.Direction] = {"tif": "in", "tof": "out"}
#: the Pod status reason the kubelet gives a Pod that ran past its activeDeadlineSeconds
DEADLINE_EXCEEDED = "DeadlineExceeded"


@dataclass(frozen=True)
class ExecutorResult:
    """One executor's end as the Pod reports it."""

    index: int
    exit_code: int
    start_time: datetime | None
    end_time: datetime | None


@dataclass(frozen=True)
class Initializing:
    """The Pod is scheduled or a container started, and no executor has started yet."""

    state: ClassVar[Literal[State.INITIALIZING]] = State.INITIALIZING


@dataclass(frozen=True)
class Running:
    """An executor started: the task runs since ``start_time``; ``executors`` have ended."""

    state: ClassVar[Literal[State.RUNNING]] = State.RUNNING
    executors: tuple[ExecutorResult, ...]
    start_time: datetime | None


#: how far a task that has not ended got (None: not even scheduled)
Progress = Initializing | Running


@dataclass(frozen=True)
class Waiting:
    """None of tif, the executors and tof runs: the Pod waits for ``reason`` since ``since``."""

    reason: str
    since: datetime | None
    progress: Progress | None


@dataclass(frozen=True)
class Working:
    """tif, an executor or tof runs."""

    progress: Progress


@dataclass(frozen=True)
class Deleting:
    """The Pod is being deleted and the task has not ended (yet)."""

    progress: Progress | None


@dataclass(frozen=True)
class Ended:
    """The task ended: ``end`` says how and why; ``executors`` ended; the task's times from its containers."""

    end: End
    executors: tuple[ExecutorResult, ...] = ()
    start_time: datetime | None = None
    end_time: datetime | None = None


#: what the database should say about the task behind one Pod
Outcome = Waiting | Working | Deleting | Ended


def ended_early(end: End, progress: Progress | None) -> Ended:
    """``end`` for a task that had got as far as ``progress``: the executors ended so far and its start stay."""
    if isinstance(progress, Running):
        return Ended(end, progress.executors, progress.start_time)
    return Ended(end)


def parse_time(value: str | None) -> datetime | None:
    """An RFC 3339 time from the API server, or None."""
    return datetime.fromisoformat(value) if value else None


def _terminated(status: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    return ((status or {}).get("state") or {}).get("terminated")


def _running(status: Mapping[str, Any] | None) -> bool:
    return bool(((status or {}).get("state") or {}).get("running"))


def _started(status: Mapping[str, Any] | None) -> bool:
    return _running(status) or _terminated(status) is not None


def _started_at(status: Mapping[str, Any] | None) -> datetime | None:
    state = (status or {}).get("state") or {}
    return parse_time((state.get("running") or state.get("terminated") or {}).get("startedAt"))


def recorded_exit_code(terminated: Mapping[str, Any]) -> int:
    """The executor's real exit code: the ignore_error wrapper's message wins over the container's.

    The wrapper writes its shell's ``$?``, 0 to 255; the executor can write its termination log
    too, so a claimed code outside that range (one PostgreSQL's integer would refuse) is not taken.
    """
    for line in (terminated.get("message") or "").splitlines():
        if line.startswith(EXIT_CODE_PREFIX):
            claimed = line[len(EXIT_CODE_PREFIX):].strip()
            if claimed.isascii() and claimed.isdigit() and int(claimed) <= 255:
                return int(claimed)
            break
    return int(terminated.get("exitCode", 0))


def _filer_failed(container: str, terminated: Mapping[str, Any]) -> End:
    """A filer's failure: its own reason (the termination message of exit 1), else how the container ended."""
    code, message = terminated.get("exitCode"), terminated.get("message")
    if code == lifecycle.FILER_FAILED_EXIT and message:
        return lifecycle.filer_failed(_FILERS[container], message)
    detail = message or terminated.get("reason") or "no message"
    return lifecycle.filer_failed(_FILERS[container], f"exited with code {code}: {detail}")


class _View:
    """The Pod's containers in run order, with their statuses."""

    def __init__(self, pod: Mapping[str, Any]) -> None:
        self.meta = pod.get("metadata") or {}
        self.spec = pod.get("spec") or {}
        self.status = pod.get("status") or {}
        statuses = [*(self.status.get("initContainerStatuses") or []), *(self.status.get("containerStatuses") or [])]
        self.by_name = {s["name"]: s for s in statuses}
        names = [c["name"] for c in (*(self.spec.get("initContainers") or []), *(self.spec.get("containers") or []))]
        self.order = names
        self.executors = sorted(
            (n for n in names if n.startswith("executor-")), key=lambda n: int(n.split("-", 1)[1])
        )
        self.deleted_at = self._deleted_at()

    def _deleted_at(self) -> datetime | None:
        """The earliest moment the deletion can have begun.

        deletionTimestamp is the deletion's start plus its grace, but a later delete with a
        shorter grace moves it to that delete's time plus the shorter grace (the kubelet's or
        KWOK's final delete uses 0). A container killed by the first delete then ended before
        "timestamp minus the grace shown". No delete gives more than the spec's grace (the
        kubelet's default 30 s when none), so the timestamp minus the larger of the two is at or
        before the first delete.
        """
        stamp = parse_time(self.meta.get("deletionTimestamp"))
        if stamp is None:
            return None
        shown = int(self.meta.get("deletionGracePeriodSeconds") or 0)
        spec = self.spec.get("terminationGracePeriodSeconds")
        return stamp - timedelta(seconds=max(shown, int(spec) if spec is not None else DEFAULT_GRACE_S))

    def killed_by_deletion(self, terminated: Mapping[str, Any]) -> bool:
        end = parse_time(terminated.get("finishedAt"))
        return self.deleted_at is not None and (end is None or end >= self.deleted_at)

    def term(self, name: str) -> Mapping[str, Any] | None:
        return _terminated(self.by_name.get(name))


def executor_results(view: _View) -> tuple[ExecutorResult, ...]:
    """Every executor that has ended, in order."""
    results = []
    for name in view.executors:
        terminated = view.term(name)
        if terminated is not None:
            results.append(
                ExecutorResult(
                    index=int(name.split("-", 1)[1]),
                    exit_code=recorded_exit_code(terminated),
                    start_time=parse_time(terminated.get("startedAt")),
                    end_time=parse_time(terminated.get("finishedAt")),
                )
            )
    return tuple(results)


def task_start(view: _View) -> datetime | None:
    """When the task started running: the first executor container's start (as the local backend)."""
    starts = [t for n in view.executors if (t := _started_at(view.by_name.get(n))) is not None]
    return min(starts, default=None)


def grace_period_s(pod: Mapping[str, Any]) -> int:
    """Seconds the kubelet gives a stopping container: the deletion's grace, else the spec's, else 30."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    for value in (meta.get("deletionGracePeriodSeconds") if meta.get("deletionTimestamp") else None,
                  spec.get("terminationGracePeriodSeconds")):
        if value is not None:
            return int(value)
    return DEFAULT_GRACE_S


def _progress(view: _View) -> Progress | None:
    if any(_started(view.by_name.get(n)) for n in view.executors):
        return Running(executor_results(view), task_start(view))
    scheduled = any(
        c.get("type") == "PodScheduled" and c.get("status") == "True" for c in view.status.get("conditions") or []
    )
    return Initializing() if scheduled or view.by_name else None


def pod_progress(pod: Mapping[str, Any]) -> Progress | None:
    """How far the Pod's task got, whether or not it ended (None: not scheduled, no container started)."""
    return _progress(_View(pod))


#: (how the task ended, the end time from the deciding container, if any)
_Verdict = tuple[End, datetime | None]


def _terminal(view: _View) -> _Verdict | None:
    """How the task ended, from the containers in run order; None while it has not.

    A Pod the node ended on its own (evicted, preempted) is judged by its
    phase: the containers it killed did not fail by themselves.
    """
    if view.status.get("phase") == "Failed" and view.status.get("reason") == DEADLINE_EXCEEDED:
        return _past_deadline(view)
    if view.status.get("phase") == "Failed" and (view.status.get("reason") or _disruption(view)):
        return _phase_terminal(view)
    tif = view.term("tif")
    if tif is not None and tif.get("exitCode", 0) != 0:
        if view.killed_by_deletion(tif):
            return lifecycle.pod_deleted(), None
        return _filer_failed("tif", tif), parse_time(tif.get("finishedAt"))
    for name in view.executors:
        terminated = view.term(name)
        if terminated is not None and terminated.get("exitCode", 0) != 0:
            if view.killed_by_deletion(terminated):
                return lifecycle.pod_deleted(), None
            end = lifecycle.executor_failed(int(name.split("-", 1)[1]), recorded_exit_code(terminated))
            return end, parse_time(terminated.get("finishedAt"))
    tof = view.term("tof")
    if tof is not None:
        finished = parse_time(tof.get("finishedAt"))
        if tof.get("exitCode", 0) == 0:
            return lifecycle.completed(), finished
        if view.killed_by_deletion(tof):
            return lifecycle.pod_deleted(), None
        return _filer_failed("tof", tof), finished
    return _phase_terminal(view)


def _past_deadline(view: _View) -> _Verdict | None:
    """The kubelet stops a Pod past its activeDeadlineSeconds (the task's time limit): it ended once nothing runs.

    Until then it is not ended, so the executor it killed is recorded with its exit code
    and its output so far, as the local backend records it.
    """
    if any(_running(view.by_name.get(n)) for n in view.order if n != "trec"):
        return None
    return lifecycle.time_limit_reached(int(view.spec.get("activeDeadlineSeconds") or 0)), None


def _disruption(view: _View) -> Mapping[str, Any] | None:
    for cond in view.status.get("conditions") or []:
        if cond.get("type") == "DisruptionTarget" and cond.get("status") == "True":
            return cast(Mapping[str, Any], cond)
    return None


def _phase_terminal(view: _View) -> _Verdict | None:
    """A Pod that ended with no container saying why (evicted, preempted, deadline, deleted)."""
    phase = view.status.get("phase")
    if phase == "Succeeded":
        return lifecycle.completed(), None
    if phase != "Failed":
        return None
    cond = _disruption(view)
    if cond is not None and cond.get("reason") == "PreemptionByScheduler":
        return lifecycle.pod_preempted(cond.get("message") or ""), None
    if view.deleted_at is not None:
        return lifecycle.pod_deleted(), None
    return lifecycle.pod_failed(view.status.get("reason") or "unknown reason", view.status.get("message") or ""), None


def _pending(view: _View) -> tuple[str, datetime | None] | None:
    """Why the Pod waits and since when; None when one of tif/executors/tof runs."""
    work = [n for n in view.order if n != "trec"]
    if any(_running(view.by_name.get(n)) for n in work):
        return None
    created = parse_time(view.meta.get("creationTimestamp"))
    for cond in view.status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            return clip(f"{cond.get('reason') or 'not scheduled'}: {cond.get('message') or ''}"), created
    since = parse_time(view.status.get("startTime")) or created
    for name in view.order:
        status = view.by_name.get(name)
        terminated = _terminated(status)
        if terminated is not None:
            since = parse_time(terminated.get("finishedAt")) or since
            continue
        if name == "trec" and _running(status) and (status or {}).get("started") is False:
            return "trec is running but has not passed its startup probe", since
        if _running(status):
            continue
        waiting = ((status or {}).get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason") or "waiting to start"
        detail = f": {waiting['message']}" if waiting.get("message") else ""
        return clip(f"{name} is waiting: {reason}{detail}"), since
    return "waiting to start", since


def pod_outcome(pod: Mapping[str, Any]) -> Outcome:
    """Sort an observed Pod into what the task's record should say."""
    view = _View(pod)
    verdict = _terminal(view)
    if verdict is not None:
        end, end_time = verdict
        return Ended(end, executor_results(view), task_start(view), end_time)
    progress = _progress(view)
    if view.deleted_at is not None:
        return Deleting(progress)
    pending = _pending(view)
    if pending is not None:
        return Waiting(*pending, progress)
    # a running container makes the Pod at least INITIALIZING; "waiting to start" only keeps mypy whole
    return Working(progress) if progress is not None else Waiting("waiting to start", None, None)


def deleted_outcome(pod: Mapping[str, Any] | None) -> Ended:
    """The outcome for a Pod that is gone (or going): its own verdict, else deleted early."""
    found = pod_outcome(pod) if pod is not None else None
    match found:
        case Ended():
            return found
        case None:
            return Ended(lifecycle.pod_deleted())
        case Waiting(progress=progress) | Working(progress=progress) | Deleting(progress=progress):
            return ended_early(lifecycle.pod_deleted(), progress)
        case _:
            assert_never(found)
