"""TCtl applies one pass's decisions in parallel across tasks and in decision order within a task,
and which tasks a pass reads from the database and decides."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from poiesis.config.kube import KubeSettings
from poiesis.tctl import reconcile
from poiesis.tctl.controller import Controller, by_task
from poiesis.tctl.reconcile import DeleteJob, Resubmit
from tests.tasks import tes_task


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


def _pod(task: str, version: str = "1") -> dict:
    return {"metadata": {"labels": {"poiesis.io/task": task}, "resourceVersion": version}, "status": {"phase": "Running"}}


class _Failing(Controller):
    """The controller, except that every action of the tasks in ``failing`` raises (as a refused write would)."""

    failing: frozenset[str] = frozenset()

    def _apply(self, action: reconcile.Action) -> None:
        if action.task_id in self.failing:
            raise RuntimeError("the database refused")
        super()._apply(action)


def test_between_resyncs_a_pass_decides_only_the_tasks_whose_pod_changed(task_store, monkeypatch) -> None:
    """Informer events mark tasks; a pass reads just those from PostgreSQL and decides the active ones among them;
    a task whose action failed is marked again; a deleted Pod is forgotten once a pass sees its task ended."""
    ids = {name: task_store.create_task(tes_task(name=name)) for name in ("a", "b", "broken", "done", "podless", "old")}
    for name in ("a", "b", "broken", "done", "podless"):
        assert task_store.advance(ids[name], "RUNNING") == "RUNNING"
    assert task_store.write_terminal_state(ids["old"], "COMPLETE", ended_by="trec") == "COMPLETE"
    name_of = {task_id: name for name, task_id in ids.items()}

    def names(task_ids) -> set[str]:
        return {name_of.get(t, t) for t in task_ids}

    asked: list[set[str] | None] = []  # the ids each pass asked the database about (None: every active task)
    read = task_store.active_tasks

    def active_tasks(task_ids=None):
        asked.append(None if task_ids is None else names(task_ids))
        return read(task_ids)

    monkeypatch.setattr(task_store, "active_tasks", active_tasks)
    decided: list[set[str]] = []

    def decide(snap: reconcile.Snapshot) -> list[reconcile.Action]:
        decided.append(names(snap.tasks))
        return [Resubmit(t) for t in sorted(snap.tasks)]  # applied for real: each task is read back, none is QUEUED

    monkeypatch.setattr(reconcile, "decide", decide)
    submitted: list[str] = []
    controller = _Failing(kube=None, store=task_store, cfg=KubeSettings(), identity="dirty-test",
                          submit=lambda task_id, _: submitted.append(task_id), recorder=object())
    controller.failing = frozenset({ids["broken"]})

    controller.on_pod_list([_pod(ids[n]) for n in ("a", "b", "broken", "done")])
    controller.reconcile_once(with_jobs=False)  # after a list: every active task, with a Pod or not
    assert asked[-1] is None and decided[-1] == {"a", "b", "broken", "done", "podless"}
    assert controller.dirty.tasks == {ids["broken"]}  # its action failed: tried again at the next pass

    controller.on_pod_event("MODIFIED", _pod(ids["a"], "2"))
    assert task_store.write_terminal_state(ids["done"], "COMPLETE", ended_by="trec") == "COMPLETE"  # TRec recorded it
    controller.on_pod_event("DELETED", _pod(ids["done"], "3"))  # then its Pod went away
    controller.reconcile_once(with_jobs=False)
    assert asked[-1] == {"a", "broken", "done"} and decided[-1] == {"a", "broken"}  # b, podless: no event
    assert ids["done"] not in controller.gone  # looked at and no longer active: its deleted Pod is forgotten

    controller.on_pod_event("DELETED", _pod(ids["b"], "4"))
    controller.reconcile_once(with_jobs=False)
    assert asked[-1] == decided[-1] == {"b", "broken"} and ids["b"] in controller.gone  # still active: kept

    assert task_store.write_terminal_state(ids["b"], "SYSTEM_ERROR", ended_by="tctl") == "SYSTEM_ERROR"
    controller.on_pod_event("MODIFIED", _pod(ids["a"], "5"))
    controller.reconcile_once(with_jobs=False)
    assert asked[-1] == decided[-1] == {"a", "broken"} and ids["b"] in controller.gone  # b not looked at: kept

    controller.failing = frozenset()
    controller.on_pod_list([_pod(ids[n]) for n in ("a", "broken")])  # a relist (410): every task again
    controller.reconcile_once(with_jobs=False)
    assert asked[-1] is None and decided[-1] == {"a", "broken", "podless"}
    assert ids["b"] not in controller.gone and not controller.dirty  # the sweep looked at b: forgotten
    assert submitted == []  # the real Resubmit read every task back: all RUNNING, none to submit
    assert len(asked) == len(decided) == 5
