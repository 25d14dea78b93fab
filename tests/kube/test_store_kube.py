"""The Store methods the kube backend added, on real PostgreSQL."""

from __future__ import annotations

from poiesis import store

TASK = {"executors": [{"image": "alpine", "command": ["true"]}]}


def test_system_log_lines_land_once(task_store: store.Store) -> None:
    """Repeating lines (TRec and TCtl both record) appends each line once, in order."""
    task_id = task_store.create_task(TASK)
    task_store.add_system_logs(task_id, ["warning: x"])
    task_store.add_system_logs_once(task_id, ["tif failed", "tif failed", "second"])
    task_store.add_system_logs_once(task_id, ["second", "tif failed", "third"])
    logs = task_store.get_task(task_id, view="FULL")["logs"][0]["system_logs"]
    assert logs == ["warning: x", "tif failed", "second", "third"]


def test_active_tasks_lists_only_non_terminal(task_store: store.Store) -> None:
    """active_tasks maps every non-terminal task to its state and creation time; terminal ones are absent."""
    a, b, c = (task_store.create_task(TASK) for _ in range(3))
    task_store.advance(b, "RUNNING")
    task_store.write_terminal_state(c, "COMPLETE")
    active = task_store.active_tasks()
    assert {k: v[0] for k, v in active.items()} == {a: "QUEUED", b: "RUNNING"}
    assert active[a][1].tzinfo is not None
