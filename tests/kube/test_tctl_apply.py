"""TCtl applies one pass's decisions in parallel across tasks and in decision order within a task."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from poiesis.config.kube import KubeSettings
from poiesis.tctl import reconcile
from poiesis.tctl.controller import Controller, by_task
from poiesis.tctl.reconcile import DeleteJob, Resubmit


def test_by_task_keeps_each_tasks_order_and_first_appearance() -> None:
    actions = [Resubmit("a"), DeleteJob("b"), DeleteJob("a"), Resubmit("c"), Resubmit("b")]
    assert by_task(actions) == [[Resubmit("a"), DeleteJob("a")], [DeleteJob("b"), Resubmit("b")], [Resubmit("c")]]
    assert by_task([]) == []


class _Timed(Controller):
    """A controller whose snapshot and actions are given: each action takes 0.5 s and is timed."""

    actions: list[reconcile.Action]

    def snapshot(self, *, with_jobs: bool) -> reconcile.Snapshot:
        return reconcile.Snapshot(now=datetime.now(UTC), tasks={}, pods={}, gone={}, jobs=None,
                                  pending_timeout_s=60, queued_grace_s=60)

    def _apply(self, action: reconcile.Action) -> None:
        start = time.monotonic()
        time.sleep(0.5)
        with self._lock:
            self.applied.append((action, start, time.monotonic(), threading.current_thread().name))
        if isinstance(action, Resubmit) and action.task_id == "broken":
            raise RuntimeError("the API server refused")


def test_a_pass_applies_tasks_in_parallel_and_each_task_in_order(monkeypatch) -> None:
    decided = [Resubmit(f"t{i}") for i in range(4)] + [DeleteJob(f"t{i}") for i in range(4)]
    decided += [Resubmit("broken"), DeleteJob("broken")]
    monkeypatch.setattr(reconcile, "decide", lambda snap: decided)
    controller = _Timed(kube=None, store=None, cfg=KubeSettings(), identity="apply-test", submit=lambda *_: None,
                        recorder=object(), apply_workers=4)
    controller.applied = []
    assert controller.reconcile_once(with_jobs=False) == decided
    applied = {a: (start, end, thread) for a, start, end, thread in controller.applied}
    for i in range(4):  # one task's second action starts after its first ended, on the same thread
        first, second = applied[Resubmit(f"t{i}")], applied[DeleteJob(f"t{i}")]
        assert second[0] >= first[1] and second[2] == first[2]
    assert DeleteJob("broken") not in applied  # a failed action ends its task's turn for this pass
    first_steps = [applied[Resubmit(f"t{i}")] for i in range(4)]  # different tasks ran at the same time
    assert max(start for start, _, _ in first_steps) < min(end for _, end, _ in first_steps)
    assert len({thread for _, _, thread in applied.values()}) == 4


class _Store:
    """The store as the controller reads it: active tasks, and which ids each read asked for."""

    def __init__(self, active: dict[str, str]) -> None:
        self.active = active
        self.asked: list[frozenset[str] | None] = []

    def active_tasks(self, ids=None):
        self.asked.append(None if ids is None else frozenset(ids))
        now = datetime.now(UTC)
        return {t: (s, now) for t, s in self.active.items() if ids is None or t in ids}


def _pod(task: str, version: str = "1") -> dict:
    return {"metadata": {"labels": {"poiesis.io/task": task}, "resourceVersion": version}}


class _Recorded(Controller):
    def _apply(self, action: reconcile.Action) -> None:
        if action.task_id == "broken":
            raise RuntimeError("the database refused")


def test_between_resyncs_a_pass_decides_only_the_tasks_whose_pod_changed(monkeypatch) -> None:
    """Informer events mark tasks; a pass reads and decides just those; a failed task is marked again."""
    decided: list[set[str]] = []

    def decide(snap: reconcile.Snapshot) -> list[reconcile.Action]:
        decided.append(set(snap.tasks))
        return [Resubmit(t) for t in sorted(snap.tasks)]

    monkeypatch.setattr(reconcile, "decide", decide)
    st = _Store({"a": "RUNNING", "b": "RUNNING", "broken": "RUNNING", "done": "RUNNING"})
    controller = _Recorded(kube=None, store=st, cfg=KubeSettings(), identity="dirty-test", submit=lambda *_: None,
                           recorder=object())
    controller.on_pod_list([_pod("a"), _pod("b"), _pod("broken"), _pod("done")])
    controller.reconcile_once(with_jobs=False)  # after a list: every task
    assert st.asked[-1] is None and decided[-1] == {"a", "b", "broken", "done"}
    assert controller.dirty.tasks == {"broken"}  # its action failed: tried again next pass

    controller.on_pod_event("MODIFIED", _pod("a", "2"))
    st.active.pop("done")  # ended meanwhile (TRec), then its Pod went away
    controller.on_pod_event("DELETED", _pod("done", "3"))
    controller.reconcile_once(with_jobs=False)
    assert st.asked[-1] == {"a", "broken", "done"} and decided[-1] == {"a", "broken"}
    assert "done" not in controller.gone  # no longer active: its deleted Pod is forgotten

    controller.on_pod_event("DELETED", _pod("b", "4"))
    controller.reconcile_once(with_jobs=False)
    assert decided[-1] == {"b", "broken"} and "b" in controller.gone

    controller.on_pod_event("MODIFIED", _pod("a", "5"))
    st.asked.clear()
    controller.reconcile_once(with_jobs=False)
    assert st.asked == [frozenset({"a", "broken"})] and "b" in controller.gone  # b not looked at: kept
