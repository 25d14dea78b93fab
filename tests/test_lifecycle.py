"""The same lifecycle events through both backends give the same terminal state and system log lines.

Local: ``local.runner.Runner.run`` with the executor and the filer replaced by
stand-ins that end as the event says. Kubernetes: the Pod a kubelet would show
for that event (a filer's termination message written by the filer CLI
itself) through ``kube.outcome.pod_outcome`` (or TCtl's ``reconcile.decide``)
and ``record.Recorder``. Both write to a store that only remembers the
state steps and the terminal write, and the two must write the same.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from generated.models import TesTask
from poiesis import filer, lifecycle
from poiesis.config.filer import FilerConfig
from poiesis.config.local import LocalSettings
from poiesis.filer import cli as filer_cli
from poiesis.kube.outcome import pod_outcome
from poiesis.local import engine, executor
from poiesis.local.runner import Handle, Runner
from poiesis.record import Recorder
from poiesis.states import State
from poiesis.tctl import reconcile
from tests.kube.pods import done, pod, running

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TASK = {
    "inputs": [{"name": "ref", "url": "http://h/ref.fa", "path": "/data/ref.fa"}],
    "outputs": [{"url": "ftp://h/out.txt", "path": "/out/out.txt"}],
    "executors": [{"image": "alpine", "command": ["true"]}, {"image": "alpine", "command": ["false"]}],
}
INPUT_FAILS = "input #0 /data/ref.fa (ref): http://h/ref.fa: HTTP 404 Not Found"
OUTPUT_FAILS = "output #0 /out/out.txt: ftp://h/out.txt: connection refused"


class EndsStore:
    """Just enough of ``store.Store`` for the runner and the recorder; remembers each terminal write."""

    def __init__(self) -> None:
        self.state = State.QUEUED.value
        self.steps: list[tuple[State, datetime | None]] = []
        self.ends: list[tuple[State, tuple[str, ...]]] = []

    def get_task(self, task_id: str, view: str = "BASIC") -> dict[str, Any]:
        return {**TASK, "id": task_id, "state": self.state}

    def get_task_model(self, task_id: str) -> TesTask:
        return TesTask.model_validate(self.get_task(task_id))

    def get_state(self, task_id: str) -> str:
        return self.state

    def advance(self, task_id: str, target: str, *, at: datetime | None = None, owner: str | None = None) -> str:
        self.state = target
        self.steps.append((State(target), at))
        return target

    def add_system_logs(self, task_id: str, lines: Sequence[str]) -> None:
        pass

    def add_executor_log(self, task_id: str, **_: Any) -> bool:
        return True

    def add_output_file_logs(self, task_id: str, logs: Sequence[Any]) -> None:
        pass

    def write_terminal_state(self, task_id: str, state: str, *, system_logs: Sequence[str] = (), **_: Any) -> str:
        self.ends.append((State(state), tuple(system_logs)))
        return state


# -- the local backend's path -----------------------------------------------------


def _fails(message: str) -> Callable[..., Any]:
    def fail(*_: Any, **__: Any) -> Any:
        raise filer.FilerError(message)

    return fail


def local_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, codes: Sequence[int] = (0, 0),
              inputs: str | None = None, outputs: str | None = None, cancel: bool = False) -> EndsStore:
    """Run TASK in the local backend with executors exiting ``codes`` and the filer failing with ``inputs``/``outputs``.

    Executor #i starts at second 3 + 2i, as executor-i of the Pods below.
    """
    results = iter(enumerate(codes))

    def run(launch: engine.Launch, *, on_start: Callable[[executor.Running], None] | None = None,
            **_: Any) -> executor.Result:
        index, code = next(results)
        started = executor.Running(launch)
        started.started_at = T0 + timedelta(seconds=3 + 2 * index)
        if on_start is not None:
            on_start(started)
        return executor.Result(exit_code=code, start=started.started_at, end=started.started_at + timedelta(seconds=1),
                               stdout="", stderr="")

    monkeypatch.setattr(executor, "run", run)
    monkeypatch.setattr(filer, "fetch_inputs", _fails(inputs) if inputs else lambda *_, **__: None)
    monkeypatch.setattr(filer, "upload_outputs", _fails(outputs) if outputs else lambda *_, **__: [])
    store = EndsStore()
    mode = engine.Mode("podman", cli="/bin/false")  # isolated: no process-mode notice among the lines
    runner = Runner(store=store, settings=LocalSettings(work_dir=tmp_path / "work"), mode=mode,
                    filer_config=filer.FilerConfig())
    handle = Handle("t")
    if cancel:
        handle.cancel()
    runner.run(handle)
    return store


def local_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **event: Any) -> tuple[State, tuple[str, ...]]:
    [end] = local_run(tmp_path, monkeypatch, **event).ends
    return end


# -- the Kubernetes backend's path ------------------------------------------------


def termination_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, direction: str, reason: str) -> str:
    """What the filer CLI (``poiesis filer in|out``) leaves in its termination log when it fails with ``reason``."""
    monkeypatch.setattr(filer_cli, "run", _fails(reason))
    monkeypatch.setattr(signal, "signal", lambda *_: None)  # main() installs a SIGTERM handler; not in pytest
    (tmp_path / "task.json").write_text("{}")
    log = tmp_path / f"termination-{direction}"
    code = filer_cli.main([direction, "--task", str(tmp_path / "task.json"), "--root", str(tmp_path),
                           "--termination-log", str(log)], FilerConfig())
    assert code == lifecycle.FILER_FAILED_EXIT  # what kube.outcome takes for the filer's own failure
    return log.read_text()


def record_pods(*pods: dict[str, Any]) -> EndsStore:
    """Record each view of the Pod in turn, as TRec does."""
    store = EndsStore()
    recorder = Recorder(store=store)
    for seen in pods:
        recorder.record("t", seen, pod_outcome(seen))
    return store


def recorded(outcome_pod: dict[str, Any] | None = None, *, outcome: Any = None) -> tuple[State, tuple[str, ...]]:
    """Record the Pod (or a ready outcome) as TRec and TCtl do."""
    store = EndsStore()
    recorder = Recorder(store=store)
    recorder.record("t", outcome_pod, outcome if outcome is not None else pod_outcome(outcome_pod or {}))
    [end] = store.ends
    return end


def test_an_executor_failure_is_worded_the_same(tmp_path, monkeypatch) -> None:
    """executor #1 exits 3: EXECUTOR_ERROR, "executor #1 exited with code 3", in both."""
    kube = recorded(pod(init={"trec": running(1), "tif": done(1, 2), "executor-0": done(3, 4), "executor-1": done(5, 6, 3)}))
    local = local_end(tmp_path, monkeypatch, codes=(0, 3))
    assert local == kube == (State.EXECUTOR_ERROR, ("executor #1 exited with code 3",))


def test_an_input_filer_failure_is_worded_the_same(tmp_path, monkeypatch) -> None:
    """The filer cannot fetch an input: SYSTEM_ERROR, "input filer failed: <reason>", in both."""
    message = termination_message(tmp_path, monkeypatch, "in", INPUT_FAILS)
    kube = recorded(pod(init={"trec": running(1), "tif": done(1, 2, 1, message)}))
    local = local_end(tmp_path, monkeypatch, inputs=INPUT_FAILS)
    assert local == kube == (State.SYSTEM_ERROR, (f"input filer failed: {INPUT_FAILS}",))


def test_an_output_filer_failure_is_worded_the_same(tmp_path, monkeypatch) -> None:
    """The filer cannot upload an output: SYSTEM_ERROR, "output filer failed: <reason>", in both."""
    message = termination_message(tmp_path, monkeypatch, "out", OUTPUT_FAILS)
    kube = recorded(pod(init={"trec": running(1), "tif": done(1, 2), "executor-0": done(3, 4), "executor-1": done(5, 6)},
                        main=done(7, 8, 1, message), phase="Running"))
    local = local_end(tmp_path, monkeypatch, outputs=OUTPUT_FAILS)
    assert local == kube == (State.SYSTEM_ERROR, (f"output filer failed: {OUTPUT_FAILS}",))


def test_success_says_nothing_in_either(tmp_path, monkeypatch) -> None:
    """Every executor exits 0 and the outputs are up: COMPLETE with no line."""
    kube = recorded(pod(init={"trec": running(1), "tif": done(1, 2), "executor-0": done(3, 4), "executor-1": done(5, 6)},
                        main=done(7, 8), phase="Running"))
    assert local_end(tmp_path, monkeypatch) == kube == (State.COMPLETE, ())


def test_a_cancel_says_nothing_in_either(tmp_path, monkeypatch) -> None:
    """A cancelled task with nothing else to report: CANCELED, no line (TCtl's cancel of a task with no Job or Pod)."""
    decided = reconcile.decide(reconcile.Snapshot(now=T0, tasks={"t": ("CANCELING", T0 - timedelta(hours=1))},
                                                  pods={}, gone={}, jobs={}))
    [action] = decided
    assert isinstance(action, reconcile.Record)
    assert local_end(tmp_path, monkeypatch, cancel=True) == recorded(outcome=action.outcome) == (State.CANCELED, ())


def test_the_state_steps_are_the_same(tmp_path, monkeypatch) -> None:
    """INITIALIZING, then RUNNING stamped with the first executor's start, then the end, in both."""
    ran = record_pods(
        pod(init={"trec": running(1), "tif": running(2)}),
        pod(init={"trec": running(1), "tif": done(1, 2), "executor-0": running(3)}),
        pod(init={"trec": running(1), "tif": done(1, 2), "executor-0": done(3, 4), "executor-1": running(5)}),
        pod(init={"trec": running(1), "tif": done(1, 2), "executor-0": done(3, 4), "executor-1": done(5, 6)},
            main=done(7, 8), phase="Running"),
    )
    local = local_run(tmp_path, monkeypatch)
    expected = [(State.INITIALIZING, None), (State.RUNNING, T0 + timedelta(seconds=3))]
    assert local.steps == ran.steps == expected
    assert local.ends == ran.ends == [(State.COMPLETE, ())]
    # a Pod first seen running writes both steps at once
    assert record_pods(pod(init={"trec": running(1), "tif": done(1, 2), "executor-0": running(3)})).steps == expected


def test_steps_are_written_in_order_once() -> None:
    """What the recorder writes to reach a step from the one reached."""
    assert lifecycle.steps(None, State.RUNNING) == (State.INITIALIZING, State.RUNNING)
    assert lifecycle.steps("INITIALIZING", State.RUNNING) == (State.RUNNING,)
    assert lifecycle.steps("RUNNING", State.RUNNING) == ()
    assert lifecycle.steps("RUNNING", State.INITIALIZING) == ()


def test_every_line_is_one_clipped_line() -> None:
    """A reason with newlines and more than the limit becomes one line of MESSAGE_LIMIT characters, in both."""
    end = lifecycle.filer_failed("in", "a\nb " + "x" * 1000)
    assert len(end.lines[0]) == lifecycle.MESSAGE_LIMIT and "\n" not in end.lines[0]
    assert end.lines[0].startswith("input filer failed: a b x")
