"""The Store's terminal write as the kube backend uses it, on real PostgreSQL: who ended a task, its reason, its times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from poiesis import store
from tests.tasks import tes_task

TASK = {"executors": [{"image": "alpine", "command": ["true"]}]}
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _row(db_url: str, task_id: str) -> dict:
    """Columns the TES API does not show, read straight from the table."""
    with psycopg.connect(db_url) as conn:
        cur = conn.execute(
            "SELECT t.ended_by, t.start_time, t.end_time, l.start_time, l.end_time, l.system_logs"
            " FROM tasks t LEFT JOIN task_logs l ON l.task_id = t.id AND l.attempt = 0 WHERE t.id = %s",
            (task_id,),
        )
        names = ["ended_by", "start", "end", "log_start", "log_end", "system_logs"]
        return dict(zip(names, cur.fetchone(), strict=True))


def test_the_winner_writes_its_reason_and_name_the_loser_writes_nothing(task_store: store.Store, db_url: str) -> None:
    """TCtl ends a task with its line; TRec's later, contradicting end neither changes it nor adds its line."""
    task_id = task_store.create_task(tes_task(TASK))
    waited = "the task's Pod waited more than 300s and was stopped: Unschedulable"
    assert task_store.write_terminal_state(task_id, "SYSTEM_ERROR", system_logs=[waited], ended_by="tctl") == "SYSTEM_ERROR"
    deleted = "the task's Pod was deleted before the task finished"
    assert task_store.write_terminal_state(task_id, "SYSTEM_ERROR", system_logs=[deleted], ended_by="trec") == "SYSTEM_ERROR"
    row = _row(db_url, task_id)
    assert row["ended_by"] == "tctl"
    assert row["system_logs"] == [waited]
    assert "ended_by" not in str(task_store.get_task(task_id, view="FULL"))


def test_a_cancel_that_got_in_first_still_takes_the_writers_name(task_store: store.Store, db_url: str) -> None:
    """CANCELING turns the write into CANCELED; the writer that landed it is recorded."""
    task_id = task_store.create_task(tes_task(TASK))
    task_store.advance(task_id, "CANCELING")
    assert task_store.write_terminal_state(task_id, "COMPLETE", ended_by="trec") == "CANCELED"
    assert _row(db_url, task_id)["ended_by"] == "trec"


def test_unknown_writer_is_refused(task_store: store.Store) -> None:
    """ended_by holds only the four writers."""
    task_id = task_store.create_task(tes_task(TASK))
    with pytest.raises(psycopg.errors.CheckViolation):
        task_store.write_terminal_state(task_id, "COMPLETE", ended_by="someone")


def test_container_times_are_kept_and_an_end_before_the_start_is_clamped(task_store: store.Store, db_url: str) -> None:
    """RUNNING at the container's start, the end at its finish; an end earlier than the start becomes the start."""
    task_id = task_store.create_task(tes_task(TASK))
    task_store.advance(task_id, "RUNNING", at=T0 + timedelta(seconds=10))
    task_store.add_executor_log(task_id, index=0, exit_code=0, start_time=T0 + timedelta(seconds=10), end_time=T0 + timedelta(seconds=9))
    task_store.write_terminal_state(task_id, "COMPLETE", end_time=T0 + timedelta(seconds=9), ended_by="trec")
    row = _row(db_url, task_id)
    assert row["start"] == row["log_start"] == T0 + timedelta(seconds=10)
    assert row["end"] == row["log_end"] == T0 + timedelta(seconds=10)
    log = task_store.get_task(task_id, view="FULL")["logs"][0]
    assert log["start_time"] == log["end_time"] == log["logs"][0]["start_time"] == log["logs"][0]["end_time"]


def test_a_task_never_seen_running_gets_its_start_from_the_terminal_write(task_store: store.Store, db_url: str) -> None:
    """TCtl may see a Pod only once it ended: the start comes with the terminal write; a missing end is left out."""
    task_id = task_store.create_task(tes_task(TASK))
    task_store.add_executor_log(task_id, index=0, exit_code=3, start_time=T0, end_time=None)
    task_store.write_terminal_state(task_id, "EXECUTOR_ERROR", start_time=T0, end_time=T0 + timedelta(seconds=5))
    row = _row(db_url, task_id)
    assert (row["start"], row["end"]) == (T0, T0 + timedelta(seconds=5))
    assert (row["log_start"], row["log_end"]) == (T0, T0 + timedelta(seconds=5))
    assert "end_time" not in task_store.get_task(task_id, view="FULL")["logs"][0]["logs"][0]


def test_active_tasks_lists_only_non_terminal(task_store: store.Store) -> None:
    """active_tasks maps every non-terminal task to its state and creation time; terminal ones are absent."""
    a, b, c = (task_store.create_task(tes_task(TASK)) for _ in range(3))
    task_store.advance(b, "RUNNING")
    task_store.write_terminal_state(c, "COMPLETE")
    active = task_store.active_tasks()
    assert {k: v[0] for k, v in active.items()} == {a: "QUEUED", b: "RUNNING"}
    assert active[a][1].tzinfo is not None
