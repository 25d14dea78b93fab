"""TCtl's informer callbacks on a replica that has not started its loops (pure: no cluster, no database)."""

from __future__ import annotations

from typing import Any

from poiesis import metrics
from poiesis.config.kube import KubeSettings
from poiesis.tctl.controller import Controller
from tests.api.test_ops import sample
from tests.kube.pods import pod


def _task_pod(task: str, phase: str) -> dict[str, Any]:
    return {**pod(phase=phase), "metadata": {"name": f"{task}-pod", "labels": {"poiesis.io/task": task}}}


def _gauge() -> float:
    return sample(metrics.exposition()[0].decode(), "poiesis_pods_pending")


def _counted(controller: Controller) -> int:
    """What the gauge must say: the Pods the informer holds in phase Pending, counted the long way."""
    return sum(1 for p in controller.pods.values() if (p.get("status") or {}).get("phase") == "Pending")


def test_the_pending_gauge_follows_each_event_and_is_recounted_at_a_relist() -> None:
    """poiesis_pods_pending is kept per event (added, left Pending, deleted) without walking every Pod."""
    controller = Controller(kube=None, store=None, cfg=KubeSettings(), identity="pending-test",
                            submit=lambda *_: None, recorder=object())
    controller.on_pod_list([_task_pod("a", "Pending"), _task_pod("b", "Running"), _task_pod("c", "Pending")])
    assert _gauge() == _counted(controller) == 2
    steps = [
        ("ADDED", _task_pod("d", "Pending"), 3),
        ("MODIFIED", _task_pod("a", "Running"), 2),  # scheduled and started
        ("MODIFIED", _task_pod("a", "Running"), 2),  # another event of a Running Pod changes nothing
        ("MODIFIED", _task_pod("d", "Pending"), 2),  # still Pending: counted once
        ("MODIFIED", _task_pod("b", "Succeeded"), 2),
        ("DELETED", _task_pod("c", "Pending"), 1),  # deleted while Pending
        ("DELETED", _task_pod("b", "Succeeded"), 1),
        ("ADDED", {"metadata": {"name": "not-a-task"}, "status": {"phase": "Pending"}}, 1),  # no task label
        ("ADDED", {"metadata": {"name": "e-pod", "labels": {"poiesis.io/task": "e"}}}, 1),  # no status yet
        ("MODIFIED", _task_pod("e", "Pending"), 2),
        ("MODIFIED", _task_pod("d", "Failed"), 1),
    ]
    for kind, event_pod, pending in steps:
        controller.on_pod_event(kind, event_pod)
        assert _gauge() == _counted(controller) == pending, (kind, event_pod["metadata"]["name"])
    assert controller.pending == {"e"}
    # a relist replaces what the events built: Pods gone meanwhile (e) drop out, new ones count
    controller.on_pod_list([_task_pod("a", "Running"), _task_pod("f", "Pending"), _task_pod("g", "Pending")])
    assert _gauge() == _counted(controller) == 2 and controller.pending == {"f", "g"}
    controller.on_pod_list([])
    assert _gauge() == 0 and controller.pending == set()
