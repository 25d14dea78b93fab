"""Decide what the controller should do, from a snapshot; pure, so it is tested without a cluster.

For every task the database calls active:
- a Pod that says the task ended: record it (same ``pod_outcome`` as TRec);
- a Pod stuck waiting (unschedulable, bad image, missing volume…) for longer
  than the pending timeout: end the task SYSTEM_ERROR with the reason and
  delete its Job;
- a CANCELING task whose Pod still runs undisturbed: delete its Job again;
- a Pod seen deleted: record its last state (a deleted Pod that had not
  ended lands SYSTEM_ERROR, or CANCELED when the task was CANCELING);
- no Pod: with no Job after the grace period, a QUEUED task is resubmitted,
  a CANCELING one ends CANCELED, any other ends SYSTEM_ERROR saying its Job
  and Pod are gone; a Job whose Pod vanished ends SYSTEM_ERROR; a Job still
  suspended after the grace period (submission died part-way) is resubmitted;
  a Job that made no Pod within the pending timeout ends SYSTEM_ERROR.
Other Pods are recorded as they are (progress and executor logs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from poiesis.kube.outcome import Outcome, deleted_outcome, pod_outcome
from poiesis.states import State


@dataclass(frozen=True)
class Snapshot:
    """What the controller knows at one moment."""

    now: datetime
    tasks: Mapping[str, tuple[str, datetime]]
    pods: Mapping[str, Mapping[str, Any]]
    gone: Mapping[str, Mapping[str, Any] | None]
    jobs: Mapping[str, Mapping[str, Any]] | None
    pending_timeout_s: float = 300.0
    queued_grace_s: float = 120.0


@dataclass(frozen=True)
class Record:
    """Write what ``outcome`` says about the task (pod: the Pod it came from, if any)."""

    task_id: str
    outcome: Outcome
    pod: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class DeleteJob:
    task_id: str


@dataclass(frozen=True)
class Resubmit:
    task_id: str


Action = Record | DeleteJob | Resubmit


def _job_finished(job: Mapping[str, Any]) -> bool:
    return any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        for c in (job.get("status") or {}).get("conditions") or []
    )


def _with_pod(task_id: str, state: str, pod: Mapping[str, Any], snap: Snapshot) -> list[Action]:
    found = pod_outcome(pod)
    if found.state is not None or found.deleting:
        return [Record(task_id, found, pod)]
    waited = (snap.now - found.pending_since).total_seconds() if found.pending and found.pending_since else 0.0
    if waited > snap.pending_timeout_s:
        line = f"the task's Pod waited more than {snap.pending_timeout_s:g}s and was stopped: {found.pending}"
        stuck = Outcome(state=State.SYSTEM_ERROR.value, executors=found.executors, system_logs=(line,))
        return [Record(task_id, stuck, pod), DeleteJob(task_id)]
    if state == State.CANCELING:
        return [Record(task_id, found, pod), DeleteJob(task_id)]
    return [Record(task_id, found, pod)]


def _without_pod(task_id: str, state: str, created: datetime, snap: Snapshot) -> list[Action]:
    if snap.jobs is None or snap.now - created < timedelta(seconds=snap.queued_grace_s):
        return []
    job = snap.jobs.get(task_id)
    if job is None:
        if state == State.QUEUED:
            return [Resubmit(task_id)]
        if state == State.CANCELING:
            return [Record(task_id, Outcome(state=State.CANCELED.value))]
        return [Record(task_id, Outcome(state=State.SYSTEM_ERROR.value, system_logs=("the task's Job and Pod are gone",)))]
    if state == State.CANCELING:
        return [DeleteJob(task_id)]
    if _job_finished(job):
        return [Record(task_id, deleted_outcome(None))]
    if (job.get("spec") or {}).get("suspend"):
        return [Resubmit(task_id)]
    if snap.now - created > timedelta(seconds=snap.pending_timeout_s):
        line = f"the task's Job made no Pod within {snap.pending_timeout_s:g}s"
        return [Record(task_id, Outcome(state=State.SYSTEM_ERROR.value, system_logs=(line,))), DeleteJob(task_id)]
    return []


def decide(snap: Snapshot) -> list[Action]:
    """Every action the controller should take now, task by task."""
    actions: list[Action] = []
    for task_id, (state, created) in snap.tasks.items():
        pod = snap.pods.get(task_id)
        if pod is not None:
            actions += _with_pod(task_id, state, pod, snap)
        elif task_id in snap.gone:
            actions.append(Record(task_id, deleted_outcome(snap.gone[task_id]), snap.gone[task_id]))
        else:
            actions += _without_pod(task_id, state, created, snap)
    return actions
