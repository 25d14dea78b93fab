"""Hypothesis drives creates, RUNNING, cancels and terminal writes from concurrent writers.

After every step it checks the store's promises: a terminal state never
changes, a task that was CANCELING ends CANCELED, no executor log that was accepted is
lost, and none lands after the terminal state (a write to an ended task is refused).
The same machine run against an unconditional UPDATE must find a violation.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, errors, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from poiesis import states, store
from tests.tasks import tes_task

TERMINAL = sorted(s.value for s in states.TERMINAL)
WRITES = st.one_of(
    st.sampled_from(TERMINAL).map(lambda s: ("terminal", s)),
    st.just(("advance", "RUNNING")),
    st.just(("advance", "CANCELING")),
    st.integers(0, 3).map(lambda i: ("log", i)),
)
TASK = {"executors": [{"image": "alpine", "command": ["true"]}]}


class TaskRaces(RuleBasedStateMachine):
    """A model of what the store has promised, checked against the database."""

    task_store: store.Store  # set by the test that runs the machine

    tasks = Bundle("tasks")

    def __init__(self) -> None:
        super().__init__()
        self.final: dict[str, str] = {}  # first terminal state seen per task
        self.was_canceling: set[str] = set()
        self.logged: dict[str, set[int]] = {}
        self.at_end: dict[str, set[int]] = {}  # the executor logs a task had when first seen terminal

    @rule(target=tasks)
    def create(self) -> str:
        task_id = self.task_store.create_task(tes_task(TASK))
        self.logged[task_id] = set()
        return task_id

    @rule(task=tasks, writes=st.lists(WRITES, min_size=1, max_size=4))
    def race(self, task: str, writes: list[tuple[str, object]]) -> None:
        """Several writers hit one task at the same moment, each on its own connection."""
        barrier = threading.Barrier(len(writes))

        def write(kind_arg: tuple[str, object]) -> tuple[str, object, object]:
            kind, arg = kind_arg
            barrier.wait(timeout=10)
            if kind == "terminal":
                return kind, arg, self.task_store.write_terminal_state(task, str(arg))
            if kind == "advance":
                return kind, arg, self.task_store.advance(task, str(arg))
            return kind, arg, self.task_store.add_executor_log(task, index=int(arg), exit_code=int(arg))

        with ThreadPoolExecutor(max_workers=len(writes)) as pool:
            results = list(pool.map(write, writes))
        for kind, arg, landed in results:
            if kind == "log" and landed:
                self.logged[task].add(int(arg))
            elif kind == "advance" and arg == "CANCELING" and landed == "CANCELING":
                self.was_canceling.add(task)
            elif kind == "terminal":
                self._saw_terminal(task, str(landed))

    def _saw_terminal(self, task: str, state: str) -> None:
        assert states.is_terminal(state), f"terminal write returned non-terminal {state}"
        first = self.final.setdefault(task, state)
        assert first == state, f"{task}: terminal state changed from {first} to {state}"

    @invariant()
    def promises_hold(self) -> None:
        for task, logged in self.logged.items():
            current = self.task_store.get_state(task)
            if current == "CANCELING":
                self.was_canceling.add(task)
            if states.is_terminal(current):
                self._saw_terminal(task, current)
                if task in self.was_canceling:
                    assert current == "CANCELED", f"{task} was CANCELING but ended {current}"
            elif task in self.final:
                raise AssertionError(f"{task} left terminal {self.final[task]} for {current}")
            recorded = _executor_indexes(self.task_store.get_task(task, view="FULL"))
            assert logged <= recorded, f"{task}: executor logs lost: {logged - recorded}"
            if states.is_terminal(current):
                ended_with = self.at_end.setdefault(task, recorded)
                assert recorded == ended_with, f"{task}: executor logs after the end: {recorded - ended_with}"


def _executor_indexes(task: dict) -> set[int]:
    logs = task.get("logs") or [{"logs": []}]
    return {entry["exit_code"] for entry in logs[0]["logs"]}  # the tests use index == exit code


class UnconditionalStore(store.Store):
    """A deliberately broken store: the terminal write forgets its guard."""

    def write_terminal_state(self, task_id, state, *, end_time=None, system_logs=()):
        with self._pool.connection() as conn:
            row = conn.execute(
                "UPDATE tasks SET state = %s WHERE id = %s RETURNING state", (state, task_id)
            ).fetchone()
        return row[0] if row else None


MACHINE_SETTINGS = settings(
    max_examples=60,
    stateful_step_count=12,
    deadline=None,
    derandomize=True,
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.too_slow],
)


def _run(task_store: store.Store) -> None:
    machine = type("Machine", (TaskRaces,), {"task_store": task_store})
    run_state_machine_as_test(machine, settings=MACHINE_SETTINGS)


def test_store_keeps_its_promises_under_concurrent_writers(db_url):
    """Concurrent RUNNING, cancel, log and terminal writes never break a promise."""
    pool = store.open_pool(db_url, max_size=8)
    try:
        _run(store.Store(pool))
    finally:
        pool.close()


def test_machine_finds_an_unconditional_terminal_update(db_url):
    """The same machine catches a write_terminal_state without its guard.

    Some violations depend on how the threads interleave, so a replay during
    shrinking may not fail the same way; Hypothesis then reports Flaky, which
    it only does after it has seen the failure.
    """
    pool = store.open_pool(db_url, max_size=8)
    try:
        with pytest.raises((AssertionError, errors.Flaky)) as caught:
            _run(UnconditionalStore(pool))
        if isinstance(caught.value, AssertionError):
            assert any(word in str(caught.value) for word in ("terminal", "CANCELING"))
    finally:
        pool.close()
