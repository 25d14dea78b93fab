"""What an observed Pod means for its task: one pure function, used by TRec and TCtl.

``pod_outcome`` reads a Pod (a dict as the API server returns it) and says
which terminal state to write (or none yet), which executors have ended and
how, what the system log should say, and whether the Pod is stuck waiting
and since when. It decides from container statuses, not only the phase: the
phase turns terminal only after the TRec sidecar stopped, and TRec must
record before that. Pure: no clock, no I/O. The table in docs/kubernetes.md
mirrors this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from poiesis.kube.build import EXIT_CODE_PREFIX
from poiesis.states import State, executor_error_log

MESSAGE_LIMIT = 500
#: the kubelet's grace when the Pod spec names none
DEFAULT_GRACE_S = 30
_FILERS = {"tif": "input filer (tif)", "tof": "output filer (tof)"}


@dataclass(frozen=True)
class ExecutorResult:
    """One executor's end as the Pod reports it."""

    index: int
    exit_code: int
    start_time: datetime | None
    end_time: datetime | None


@dataclass(frozen=True)
class Outcome:
    """What the database should say about the task behind one Pod."""

    state: str | None = None
    progress: str | None = None
    executors: tuple[ExecutorResult, ...] = ()
    system_logs: tuple[str, ...] = ()
    outputs_ready: bool = False
    start_time: datetime | None = None
    end_time: datetime | None = None
    pending: str | None = None
    pending_since: datetime | None = None
    deleting: bool = False


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
    """The executor's real exit code: the ignore_error wrapper's message wins over the container's."""
    for line in (terminated.get("message") or "").splitlines():
        if line.startswith(EXIT_CODE_PREFIX):
            try:
                return int(line[len(EXIT_CODE_PREFIX):].strip())
            except ValueError:
                break
    return int(terminated.get("exitCode", 0))


def clip(text: str) -> str:
    """One line of at most MESSAGE_LIMIT characters, for the system log."""
    text = " ".join(text.split())
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def _exit_line(who: str, terminated: Mapping[str, Any]) -> str:
    detail = terminated.get("message") or terminated.get("reason") or "no message"
    return clip(f"{who} exited with code {terminated.get('exitCode')}: {detail}")


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


def _progress(view: _View) -> str | None:
    if any(_started(view.by_name.get(n)) for n in view.executors):
        return State.RUNNING.value
    scheduled = any(
        c.get("type") == "PodScheduled" and c.get("status") == "True" for c in view.status.get("conditions") or []
    )
    return State.INITIALIZING.value if scheduled or view.by_name else None


def _deleted_line() -> str:
    return "the task's Pod was deleted before the task finished"


def _terminal(view: _View) -> tuple[str | None, tuple[str, ...], datetime | None, bool]:
    """(state, system log lines, end time, outputs ready) from the containers, in run order.

    A Pod the node ended on its own (evicted, preempted) is judged by its
    phase: the containers it killed did not fail by themselves.
    """
    if view.status.get("phase") == "Failed" and (view.status.get("reason") or _disruption(view)):
        return _phase_terminal(view)
    tif = view.term("tif")
    if tif is not None and tif.get("exitCode", 0) != 0:
        if view.killed_by_deletion(tif):
            return State.SYSTEM_ERROR.value, (_deleted_line(),), None, False
        return State.SYSTEM_ERROR.value, (_exit_line(_FILERS["tif"], tif),), parse_time(tif.get("finishedAt")), False
    for name in view.executors:
        terminated = view.term(name)
        if terminated is not None and terminated.get("exitCode", 0) != 0:
            if view.killed_by_deletion(terminated):
                return State.SYSTEM_ERROR.value, (_deleted_line(),), None, False
            line = executor_error_log(int(name.split("-", 1)[1]), recorded_exit_code(terminated))
            return State.EXECUTOR_ERROR.value, (line,), parse_time(terminated.get("finishedAt")), False
    tof = view.term("tof")
    if tof is not None:
        end = parse_time(tof.get("finishedAt"))
        if tof.get("exitCode", 0) == 0:
            return State.COMPLETE.value, (), end, True
        if view.killed_by_deletion(tof):
            return State.SYSTEM_ERROR.value, (_deleted_line(),), None, False
        return State.SYSTEM_ERROR.value, (_exit_line(_FILERS["tof"], tof),), end, False
    return _phase_terminal(view)


def _disruption(view: _View) -> Mapping[str, Any] | None:
    for cond in view.status.get("conditions") or []:
        if cond.get("type") == "DisruptionTarget" and cond.get("status") == "True":
            return cast(Mapping[str, Any], cond)
    return None


def _phase_terminal(view: _View) -> tuple[str | None, tuple[str, ...], datetime | None, bool]:
    """A Pod that ended with no container saying why (evicted, preempted, deadline, deleted)."""
    phase = view.status.get("phase")
    if phase == "Succeeded":
        return State.COMPLETE.value, (), None, True
    if phase != "Failed":
        return None, (), None, False
    cond = _disruption(view)
    if cond is not None and cond.get("reason") == "PreemptionByScheduler":
        return State.PREEMPTED.value, (clip(f"the Pod was preempted: {cond.get('message') or ''}"),), None, False
    if view.deleted_at is not None:
        return State.SYSTEM_ERROR.value, (_deleted_line(),), None, False
    reason = view.status.get("reason") or "unknown reason"
    message = view.status.get("message") or ""
    return State.SYSTEM_ERROR.value, (clip(f"the Pod failed: {reason} {message}".strip()),), None, False


def _pending(view: _View) -> tuple[str | None, datetime | None]:
    """Why the Pod waits and since when, when none of tif/executors/tof runs."""
    work = [n for n in view.order if n != "trec"]
    if any(_running(view.by_name.get(n)) for n in work):
        return None, None
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
    state, logs, end, outputs_ready = _terminal(view)
    executors = executor_results(view)
    if state is not None:
        return Outcome(
            state=state,
            progress=_progress(view),
            executors=executors,
            system_logs=logs,
            outputs_ready=outputs_ready,
            start_time=task_start(view),
            end_time=end,
            deleting=view.deleted_at is not None,
        )
    pending, since = _pending(view)
    return Outcome(
        progress=_progress(view),
        executors=executors,
        start_time=task_start(view),
        pending=pending,
        pending_since=since,
        deleting=view.deleted_at is not None,
    )


def deleted_outcome(pod: Mapping[str, Any] | None) -> Outcome:
    """The outcome for a Pod that is gone (or going): its own verdict, else deleted early."""
    found = pod_outcome(pod) if pod is not None else Outcome()
    if found.state is not None:
        return found
    return Outcome(
        state=State.SYSTEM_ERROR.value,
        executors=found.executors,
        system_logs=(_deleted_line(),),
        start_time=found.start_time,
        deleting=True,
    )
