"""What TRec and TCtl keep of a Pod: the fields something reads, nothing else.

TCtl holds every task Pod in memory. As the API server returns one, most of it is
never read: ``metadata.managedFields`` (about half of a running task Pod's JSON),
the container specs (images, commands, env, mounts, probes, resources, security
contexts), volumes, the containers' images, ids and readiness. ``slim`` keeps what
the readers read:

- ``kube.outcome`` (``pod_outcome``, ``pod_progress``, ``grace_period_s``): the
  containers' names in spec order, ``terminationGracePeriodSeconds``,
  ``activeDeadlineSeconds`` (the task's time limit, named when it is reached), the phase,
  reason, message, startTime and conditions (type, status, reason, message), each
  container status's name, ``started`` and state (running.startedAt;
  terminated.exitCode, reason, message, startedAt, finishedAt; waiting.reason,
  message), creationTimestamp, deletionTimestamp and deletionGracePeriodSeconds;
- ``record.Recorder``: the Pod's name (the container log) and an executor's
  ``POIESIS_STDOUT``/``POIESIS_STDERR`` env (``build.executor_command`` sets them);
- ``tctl`` (the controller, ``reconcile.trec_records``, ``reconcile.Outcomes``): the
  task label, the phase, the trec container's state, deletionTimestamp, resourceVersion;
- ``kube.informer``: resourceVersion (where the watch goes on from).

A field a reader starts to read must be added here: tests/kube/test_slim.py runs
the readers on full Pods and on their slim copies and compares every read.
Pure: a new dict; the Pod given is not changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from poiesis.kube.build import TASK_LABEL

_META = ("name", "resourceVersion", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds")
_STATUS = ("phase", "reason", "message", "startTime")
_CONDITION = ("type", "status", "reason", "message")
_STATES: dict[str, tuple[str, ...]] = {
    "running": ("startedAt",),
    "terminated": ("exitCode", "reason", "message", "startedAt", "finishedAt"),
    "waiting": ("reason", "message"),
}
#: the executor env the Recorder reads (where stdout/stderr were redirected on the task volume)
_STREAM_ENV = frozenset({"POIESIS_STDOUT", "POIESIS_STDERR"})


def _pick(obj: Mapping[str, Any] | None, keys: Iterable[str]) -> dict[str, Any] | None:
    """The given keys of ``obj`` that it has (None stays None, so readers see the same absence)."""
    return None if obj is None else {k: obj[k] for k in keys if k in obj}


def _each(items: list[Any] | None, keep: Callable[[Any], Any]) -> list[Any] | None:
    return None if items is None else [keep(item) for item in items]


def _container(spec: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": spec["name"]}
    env = [{"name": e["name"], "value": e.get("value")} for e in spec.get("env") or () if e.get("name") in _STREAM_ENV]
    if env:
        out["env"] = env
    return out


def _container_status(status: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: status[k] for k in ("name", "started") if k in status}
    if "state" in status:
        state = status["state"]
        out["state"] = None if state is None else {k: _pick(v, _STATES[k]) for k, v in state.items() if k in _STATES}
    return out


def slim(pod: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of ``pod`` that TRec, TCtl, the Recorder and ``pod_outcome`` read."""
    out: dict[str, Any] = {}
    if (meta := pod.get("metadata")) is not None:
        kept_meta: dict[str, Any] = {k: meta[k] for k in _META if k in meta}
        labels = meta.get("labels") or {}
        if TASK_LABEL in labels:
            kept_meta["labels"] = {TASK_LABEL: labels[TASK_LABEL]}
        out["metadata"] = kept_meta
    if (spec := pod.get("spec")) is not None:
        kept_spec: dict[str, Any] = {k: spec[k] for k in ("terminationGracePeriodSeconds", "activeDeadlineSeconds") if k in spec}
        for key in ("initContainers", "containers"):
            if key in spec:
                kept_spec[key] = _each(spec[key], _container)
        out["spec"] = kept_spec
    if (status := pod.get("status")) is not None:
        kept_status: dict[str, Any] = {k: status[k] for k in _STATUS if k in status}
        if "conditions" in status:
            kept_status["conditions"] = _each(status["conditions"], lambda c: _pick(c, _CONDITION))
        for key in ("initContainerStatuses", "containerStatuses"):
            if key in status:
                kept_status[key] = _each(status[key], _container_status)
        out["status"] = kept_status
    return out
