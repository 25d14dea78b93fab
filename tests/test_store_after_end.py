"""Nothing is written to a task after its terminal state (issue 21, finding 6).

Every write to a task (its state, start and end times, system logs, executor logs,
output file logs) is guarded by the task not being terminal: the terminal write
takes the task's row lock and every other write waits for it and then finds the
task ended. The output file logs travel with the terminal write and land only if
it does, so a writer that lost the race to end a task leaves nothing behind. The
tests run the real writers (the store, ``record.Recorder``) on the test PostgreSQL,
in threads that meet at a barrier, and compare every row of the task before and after.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from poiesis import lifecycle, states, store
from poiesis.kube.outcome import Ended
from poiesis.record import Recorder
from poiesis.states import State
from tests.tasks import tes_task

TASK = {"executors": [{"image": "alpine", "command": ["true"]}],
        "outputs": [{"path": "/out/a", "url": "s3://b/a"}]}
ROWS = {
    "tasks": "SELECT state, start_time, end_time, ended_by, updated_at FROM tasks WHERE id = %s",
    "task_logs": "SELECT attempt, start_time, end_time, system_logs, metadata FROM task_logs"
                 " WHERE task_id = %s ORDER BY attempt",
    "executor_logs": "SELECT idx, exit_code, stdout, stderr, start_time, end_time FROM executor_logs"
                     " WHERE task_id = %s ORDER BY idx",
    "output_file_logs": "SELECT idx, url, path, size_bytes FROM output_file_logs WHERE task_id = %s ORDER BY idx",
}


def rows_of(db_url: str, task_id: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the store keeps about the task's run, read directly."""
    with psycopg.connect(db_url) as conn:
        return {table: conn.execute(sql, (task_id,)).fetchall() for table, sql in ROWS.items()}


def outputs(name: str, count: int) -> list[dict[str, str]]:
    return [{"url": f"s3://b/{name}/{i}", "path": f"/out/{name}/{i}", "size_bytes": str(i)} for i in range(count)]


def transfer_with(tmp: Path, listed: Sequence[dict[str, str]]) -> Path:
    """A task volume whose outputs.json (the output filer's) lists ``listed``."""
    (tmp / "files").mkdir(parents=True)
    (tmp / ".poiesis").mkdir()
    (tmp / ".poiesis" / "outputs.json").write_text(json.dumps(list(listed)))
    return tmp


def completed(second: int = 1) -> Ended:
    at = datetime.fromisoformat(f"2026-01-01T00:00:{second:02d}+00:00")
    return Ended(lifecycle.completed(), (), at, at)


def test_no_write_lands_on_an_ended_task(task_store, db_url) -> None:
    """After the end: an executor log, system log lines, a state step, a second end and its outputs change no row."""
    task_id = task_store.create_task(tes_task(TASK))
    task_store.advance(task_id, "RUNNING")
    task_store.add_executor_log(task_id, index=0, exit_code=0)
    task_store.write_terminal_state(task_id, "COMPLETE", ended_by="trec")
    before = rows_of(db_url, task_id)

    assert task_store.add_executor_log(task_id, index=1, exit_code=7, stdout="late") is False
    task_store.add_system_logs(task_id, ["a line after the end"])
    assert task_store.advance(task_id, "CANCELING") == "COMPLETE"
    assert task_store.write_terminal_state(task_id, "SYSTEM_ERROR", system_logs=["the loser's reason"],
                                           ended_by="tctl") == "COMPLETE"
    Recorder(store=task_store, transfer_dir=None, source="tctl").record(task_id, None, completed())

    assert rows_of(db_url, task_id) == before


def test_the_loser_of_an_end_leaves_no_output_file_logs(task_store, db_url, tmp_path) -> None:
    """TCtl ended the task first; TRec then records the Pod's end with outputs.json: its outputs do not land."""
    task_id = task_store.create_task(tes_task(TASK))
    task_store.write_terminal_state(task_id, "SYSTEM_ERROR", system_logs=["tctl's reason"], ended_by="tctl")
    before = rows_of(db_url, task_id)
    trec = Recorder(store=task_store, transfer_dir=transfer_with(tmp_path, outputs("trec", 3)), source="trec")
    assert trec.record(task_id, None, completed()) == "SYSTEM_ERROR"
    assert rows_of(db_url, task_id) == before
    assert task_store.get_task(task_id, view="FULL")["logs"][0]["outputs"] == []


def test_the_winners_outputs_land_with_its_end(task_store, tmp_path) -> None:
    """The writer that ends the task records its outputs in the same transaction as the end."""
    task_id = task_store.create_task(tes_task(TASK))
    listed = outputs("trec", 2)
    trec = Recorder(store=task_store, transfer_dir=transfer_with(tmp_path, listed), source="trec")
    assert trec.record(task_id, None, completed()) == "COMPLETE"
    assert task_store.get_task(task_id, view="FULL")["logs"][0]["outputs"] == listed


def test_tctl_ending_a_task_with_outputs_says_they_were_not_recorded(task_store) -> None:
    """TCtl cannot read the task volume: a COMPLETE it writes says the output file logs were not recorded."""
    with_outputs = task_store.create_task(tes_task(TASK))
    without = task_store.create_task(tes_task({"executors": TASK["executors"]}))
    tctl = Recorder(store=task_store, transfer_dir=None, source="tctl")
    for task_id in (with_outputs, without):
        assert tctl.record(task_id, None, completed()) == "COMPLETE"
    said = task_store.get_task(with_outputs, view="FULL")["logs"][0].get("system_logs", [])
    assert [line for line in said if "output file logs" in line and "not recorded" in line], said
    assert "system_logs" not in task_store.get_task(without, view="FULL")["logs"][0]


def race(task_store: store.Store, task_id: str, writers: Sequence[tuple[str, Path | None]]) -> list[str | None]:
    """Every (source, task volume) records the task's COMPLETE at the same moment, each on its own connection."""
    barrier = threading.Barrier(len(writers))

    def write(writer: tuple[str, Path | None]) -> str | None:
        source, transfer = writer
        recorder = Recorder(store=task_store, transfer_dir=transfer, source=source)
        barrier.wait(timeout=10)
        return recorder.record(task_id, None, completed())

    with ThreadPoolExecutor(max_workers=len(writers)) as pool:
        return list(pool.map(write, writers))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(trec_count=st.integers(0, 4), tctl_count=st.integers(0, 4), late=st.lists(st.integers(0, 3), max_size=3))
def test_racing_ends_leave_only_the_winners_outputs(task_store, db_url, tmp_path_factory, trec_count, tctl_count,
                                                    late) -> None:
    """Two writers end one task at once, each with its own outputs.json, while executor logs arrive.

    Whichever lands, the task shows that writer's outputs and nothing of the other's;
    and a log write that found the task ended is not there.
    """
    task_id = task_store.create_task(tes_task(TASK))
    listed = {"trec": outputs("trec", trec_count), "tctl": outputs("tctl", tctl_count)}
    writers = [(source, transfer_with(tmp_path_factory.mktemp(source), listed[source])) for source in listed]
    with ThreadPoolExecutor(max_workers=len(late) + 1) as pool:
        ended = pool.submit(race, task_store, task_id, writers)
        logged = list(pool.map(lambda i: task_store.add_executor_log(task_id, index=i, exit_code=i), late))
        assert set(ended.result()) == {"COMPLETE"}
    task = task_store.get_task(task_id, view="FULL")
    with psycopg.connect(db_url) as conn:
        (winner,) = conn.execute("SELECT ended_by FROM tasks WHERE id = %s", (task_id,)).fetchone()
    assert task["logs"][0]["outputs"] == listed[winner]
    recorded = {entry["exit_code"] for entry in task["logs"][0]["logs"]}
    assert recorded <= set(late)
    assert all(i in recorded for i, new in zip(late, logged, strict=True) if new)


def race_one_end(task_store: store.Store, task_id: str) -> list[str]:
    """An end, a system log line and an executor log written at the same moment; the task's system log after."""
    barrier = threading.Barrier(3)
    writes = [
        lambda: task_store.write_terminal_state(task_id, State.EXECUTOR_ERROR, system_logs=["end"], ended_by="trec"),
        lambda: task_store.add_system_logs(task_id, ["racing line"]),
        lambda: task_store.add_executor_log(task_id, index=0, exit_code=1),
    ]

    def write(one: Callable[[], object]) -> object:
        barrier.wait(timeout=10)
        return one()

    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(write, writes))
    return list(task_store.get_task(task_id, view="FULL")["logs"][0]["system_logs"])


def test_a_line_racing_the_end_lands_before_it_or_not_at_all(task_store) -> None:
    """A log write racing the end either lands before it (and shows) or finds the task ended (and changes nothing)."""
    for _ in range(20):
        lines = race_one_end(task_store, task_store.create_task(tes_task(TASK)))
        assert lines in (["end"], ["racing line", "end"]), lines


def test_the_database_and_poiesis_agree_on_the_terminal_states(db_url) -> None:
    """``task_state_is_terminal`` (migration 0006) is ``states.TERMINAL``."""
    with psycopg.connect(db_url) as conn:
        said = {s.value: conn.execute("SELECT task_state_is_terminal(%s)", (s.value,)).fetchone()[0] for s in State}
    assert {s for s, terminal in said.items() if terminal} == {s.value for s in states.TERMINAL}
