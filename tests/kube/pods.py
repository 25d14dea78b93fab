"""Pod objects shaped as the API server returns them (status written by a kubelet or KWOK).

Each helper returns a plain dict like ``GET /api/v1/namespaces/N/pods/P``
returns; the statuses follow what kubelet 1.29+ writes for native sidecars
and init containers.
"""

from __future__ import annotations

from typing import Any

T0 = "2026-01-01T00:00:00Z"


def at(second: int) -> str:
    return f"2026-01-01T00:{second // 60:02d}:{second % 60:02d}Z"


def running(start: int) -> dict[str, Any]:
    return {"running": {"startedAt": at(start)}}


def done(start: int, end: int, code: int = 0, message: str | None = None) -> dict[str, Any]:
    term: dict[str, Any] = {
        "exitCode": code,
        "reason": "Completed" if code == 0 else "Error",
        "startedAt": at(start),
        "finishedAt": at(end),
        "containerID": "containerd://0",
    }
    if message is not None:
        term["message"] = message
    return {"terminated": term}


def waiting(reason: str, message: str | None = None) -> dict[str, Any]:
    w: dict[str, Any] = {"reason": reason}
    if message:
        w["message"] = message
    return {"waiting": w}


def status(name: str, state: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "state": state, "ready": "running" in state, "restartCount": 0, "image": "x", "imageID": ""}


def pod(
    *,
    executors: int = 2,
    init: dict[str, dict[str, Any]] | None = None,
    main: dict[str, Any] | None = None,
    phase: str = "Pending",
    conditions: list[dict[str, Any]] | None = None,
    deleted: str | None = None,
    start_time: str | None = T0,
    reason: str | None = None,
) -> dict[str, Any]:
    """A task Pod; ``init`` maps init container names to their state, ``main`` is tof's state."""
    names = ["trec", "tif", *(f"executor-{i}" for i in range(executors))]
    init = init or {}
    meta: dict[str, Any] = {
        "name": "poiesis-t-abcde",
        "namespace": "poiesis",
        "labels": {"poiesis.io/task": "t"},
        "creationTimestamp": T0,
        "resourceVersion": "1",
    }
    if deleted:
        meta["deletionTimestamp"] = deleted
        meta["deletionGracePeriodSeconds"] = 30
    st: dict[str, Any] = {
        "phase": phase,
        "conditions": conditions
        if conditions is not None
        else [{"type": "PodScheduled", "status": "True", "lastTransitionTime": T0}],
        "initContainerStatuses": [status(n, init.get(n, waiting("PodInitializing"))) for n in names],
        "containerStatuses": [status("tof", main or waiting("PodInitializing"))],
    }
    if start_time:
        st["startTime"] = start_time
    if reason:
        st["reason"] = reason
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {
            "initContainers": [{"name": n, **({"restartPolicy": "Always"} if n == "trec" else {})} for n in names],
            "containers": [{"name": "tof"}],
        },
        "status": st,
    }
