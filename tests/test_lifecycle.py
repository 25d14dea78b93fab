"""The same lifecycle events through both backends give the same terminal state and system log lines.

Both backends write to the real ``store.Store`` (the ``task_store`` fixture: a
fresh migrated database on the test PostgreSQL), and what landed there is read
back and compared. Local: ``local.runner.Runner.run`` in process mode, the
executors real host processes that exit as the event says and the filer's
fetch/upload replaced by stand-ins that fail with the event's reason (the
filer's remote ends are not what this test is about). Kubernetes: the Pod a
kubelet would show for that event (a filer's termination message written by
the filer CLI itself) through ``kube.outcome.pod_outcome`` (or TCtl's
``reconcile.decide``) and ``record.Recorder``.

Process mode notes its own isolation in every task's system logs before any
executor runs (``lifecycle.PROCESS_MODE_LOG``, ``NO_PRIVATE_MOUNTS_LOG``);
the local task's lines are those notices followed by exactly the lines the
Kubernetes task has.
"""

from __future__ import annotations

import contextlib
import functools
import signal
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from poiesis import filer, lifecycle
from poiesis.config.filer import FilerConfig
from poiesis.config.local import LocalSettings
from poiesis.filer import cli as filer_cli
from poiesis.kube.outcome import deleted_outcome, pod_outcome
from poiesis.local import engine
from poiesis.local.runner import Handle, Runner
from poiesis.local.scheduler import LocalBackend
from poiesis.record import Recorder
from poiesis.states import State
from poiesis.store import Store
from poiesis.tctl import reconcile
from tests.kube.pods import done, pod, running
from tests.plugins.pg import opened
from tests.tasks import tes_task

T0 = datetime(2026, 1, 1, tzinfo=UTC)
INPUT_FAILS = "input #0 /data/ref.fa (ref): http://h/ref.fa: HTTP 404 Not Found"
OUTPUT_FAILS = "output #0 /out/out.txt: ftp://h/out.txt: connection refused"


def task_doc(codes: Sequence[int] = (0, 0)) -> dict[str, Any]:
    """One input, one output, an executor per exit code (each a real ``sh -c 'exit N'``)."""
    return {
        "inputs": [{"name": "ref", "url": "http://h/ref.fa", "path": "/data/ref.fa"}],
        "outputs": [{"url": "ftp://h/out.txt", "path": "/out/out.txt"}],
        "executors": [{"image": "alpine", "command": ["sh", "-c", f"exit {code}"]} for code in codes],
    }


class Recording(Store):
    """The real store, remembering per task the state steps and terminal writes that went through it."""

    def __init__(self, pool: ConnectionPool) -> None:
        super().__init__(pool)
        self.steps: dict[str, list[tuple[State, datetime | None]]] = defaultdict(list)
        self.ends: dict[str, list[State]] = defaultdict(list)

    def advance(self, task_id: str, target: str, *, at: datetime | None = None, owner: str | None = None) -> str | None:
        self.steps[task_id].append((State(target), at))
        return super().advance(task_id, target, at=at, owner=owner)

    def write_terminal_state(self, task_id: str, state: str, **kwargs: Any) -> str | None:
        self.ends[task_id].append(State(state))
        return super().write_terminal_state(task_id, state, **kwargs)


@pytest.fixture
def task_store(db_url: str) -> Iterator[Recording]:
    """The ``task_store`` of tests/plugins/pg.py (a fresh migrated database), as a Recording."""
    with opened(db_url, Recording) as store:
        yield store


@dataclass
class Landed:
    """What one backend wrote for one task: the steps and terminal writes, and the task as the store shows it."""

    steps: list[tuple[State, datetime | None]]
    ends: list[State]
    task: dict[str, Any]

    @property
    def end(self) -> tuple[State, tuple[str, ...]]:
        """The task's state and its system log lines."""
        return State(self.task["state"]), tuple(self.task["logs"][0].get("system_logs", []))

    def first_executor_start(self) -> datetime:
        return datetime.fromisoformat(self.task["logs"][0]["logs"][0]["start_time"])


def landed(store: Recording, task_id: str) -> Landed:
    return Landed(store.steps[task_id], store.ends[task_id], store.get_task(task_id, view="FULL"))


# -- the local backend's path -----------------------------------------------------


def _fails(message: str) -> Callable[..., Any]:
    def fail(*_: Any, **__: Any) -> Any:
        raise filer.FilerError(message)

    return fail


@functools.cache
def process_mode() -> engine.Mode:
    """Process mode with whatever isolation this machine allows (probed once)."""
    return engine.process_mode()


def notices() -> tuple[str, ...]:
    """What process mode writes to every task before its inputs: not part of how a task ends."""
    return (lifecycle.PROCESS_MODE_LOG,) + (() if process_mode().private_mounts else (lifecycle.NO_PRIVATE_MOUNTS_LOG,))


def local_run(store: Recording, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, codes: Sequence[int] = (0, 0),
              inputs: str | None = None, outputs: str | None = None, cancel: bool = False) -> Landed:
    """Run a task in the local backend, its executors exiting ``codes`` and the filer failing with ``inputs``/``outputs``."""
    monkeypatch.setattr(filer, "fetch_inputs", _fails(inputs) if inputs else lambda *_, **__: None)
    monkeypatch.setattr(filer, "upload_outputs", _fails(outputs) if outputs else lambda *_, **__: [])
    task_id = store.create_task(tes_task(task_doc(codes)))
    runner = Runner(store=store, settings=LocalSettings(work_dir=tmp_path / "work"), mode=process_mode(),
                    filer_config=filer.FilerConfig())
    handle = Handle(task_id)
    if cancel:
        handle.cancel()
    runner.run(handle)
    return landed(store, task_id)


def local_end(store: Recording, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
              **event: Any) -> tuple[State, tuple[str, ...]]:
    """The local task's end, its process-mode notices checked and set aside."""
    ran = local_run(store, tmp_path, monkeypatch, **event)
    assert len(ran.ends) == 1, "one terminal write"
    state, lines = ran.end
    assert lines[: len(notices())] == notices()
    return state, lines[len(notices()):]


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


@contextlib.contextmanager
def trec_volume() -> Iterator[Path]:
    """A task volume as TRec sees it once the output filer listed no outputs (``outputs.json`` is ``[]``)."""
    with tempfile.TemporaryDirectory(prefix="poiesis-transfer-") as tmp:
        (Path(tmp) / ".poiesis").mkdir()
        (Path(tmp) / ".poiesis" / "outputs.json").write_text("[]")
        yield Path(tmp)


def record_pods(store: Recording, *pods: dict[str, Any]) -> Landed:
    """Record each view of a new task's Pod in turn, as TRec does."""
    task_id = store.create_task(tes_task(task_doc()))
    with trec_volume() as transfer:
        recorder = Recorder(store=store, transfer_dir=transfer)
        for seen in pods:
            recorder.record(task_id, seen, pod_outcome(seen))
    return landed(store, task_id)


def recorded(store: Recording, outcome_pod: dict[str, Any] | None = None, *,
             outcome: Any = None) -> tuple[State, tuple[str, ...]]:
    """Record the Pod (or a ready outcome) for a new task as TRec and TCtl do; the task's end."""
    task_id = store.create_task(tes_task(task_doc()))
    with trec_volume() as transfer:
        recorder = Recorder(store=store, transfer_dir=transfer)
        recorder.record(task_id, outcome_pod, outcome if outcome is not None else pod_outcome(outcome_pod or {}))
    ended = landed(store, task_id)
    assert len(ended.ends) == 1, "one terminal write"
    return ended.end


def test_an_executor_failure_is_worded_the_same(task_store, tmp_path, monkeypatch) -> None:
    """executor #1 exits 3: EXECUTOR_ERROR, "executor #1 exited with code 3", in both."""
    kube = recorded(task_store, pod(init={"trec": running(1), "tif": done(1, 2), "executor-0": done(3, 4),
                                          "executor-1": done(5, 6, 3)}))
    local = local_end(task_store, tmp_path, monkeypatch, codes=(0, 3))
    assert local == kube == (State.EXECUTOR_ERROR, ("executor #1 exited with code 3",))


def test_an_input_filer_failure_is_worded_the_same(task_store, tmp_path, monkeypatch) -> None:
    """The filer cannot fetch an input: SYSTEM_ERROR, "input filer failed: <reason>", in both."""
    message = termination_message(tmp_path, monkeypatch, "in", INPUT_FAILS)
    kube = recorded(task_store, pod(init={"trec": running(1), "tif": done(1, 2, 1, message)}))
    local = local_end(task_store, tmp_path, monkeypatch, inputs=INPUT_FAILS)
    assert local == kube == (State.SYSTEM_ERROR, (f"input filer failed: {INPUT_FAILS}",))


def test_an_output_filer_failure_is_worded_the_same(task_store, tmp_path, monkeypatch) -> None:
    """The filer cannot upload an output: SYSTEM_ERROR, "output filer failed: <reason>", in both."""
    message = termination_message(tmp_path, monkeypatch, "out", OUTPUT_FAILS)
    kube = recorded(task_store, pod(init={"trec": running(1), "tif": done(1, 2), "executor-0": done(3, 4),
                                          "executor-1": done(5, 6)}, main=done(7, 8, 1, message), phase="Running"))
    local = local_end(task_store, tmp_path, monkeypatch, outputs=OUTPUT_FAILS)
    assert local == kube == (State.SYSTEM_ERROR, (f"output filer failed: {OUTPUT_FAILS}",))


def test_success_says_nothing_in_either(task_store, tmp_path, monkeypatch) -> None:
    """Every executor exits 0 and the outputs are up: COMPLETE with no line."""
    kube = recorded(task_store, pod(init={"trec": running(1), "tif": done(1, 2), "executor-0": done(3, 4),
                                          "executor-1": done(5, 6)}, main=done(7, 8), phase="Running"))
    assert local_end(task_store, tmp_path, monkeypatch) == kube == (State.COMPLETE, ())


def test_a_cancel_says_so_in_both(task_store, tmp_path, monkeypatch) -> None:
    """A cancelled task with nothing else to report: CANCELED, ``CANCELLED_LOG`` (TCtl's cancel of a task with no Job or Pod)."""
    decided = reconcile.decide(reconcile.Snapshot(now=T0, tasks={"t": ("CANCELING", T0 - timedelta(hours=1))},
                                                  pods={}, gone={}, jobs={}))
    [action] = decided
    assert isinstance(action, reconcile.Record)
    kube = recorded(task_store, outcome=action.outcome)
    assert local_end(task_store, tmp_path, monkeypatch, cancel=True) == kube == (State.CANCELED, (lifecycle.CANCELLED_LOG,))


def cancel_running_locally(store: Recording, tmp_path: Path) -> tuple[State, tuple[str, ...]]:
    """A local task whose executor (a real ``sleep``) is cancelled while it runs, as CancelTask does; its end."""
    task_id = store.create_task(tes_task({"executors": [{"image": "alpine", "command": ["sleep", "60"]}]}))
    runner = Runner(store=store, settings=LocalSettings(work_dir=tmp_path / "work"), mode=process_mode(),
                    filer_config=filer.FilerConfig())
    handle = Handle(task_id)
    worker = threading.Thread(target=runner.run, args=(handle,), daemon=True)
    worker.start()
    deadline = time.monotonic() + 30
    while store.get_state(task_id) != State.RUNNING:
        assert time.monotonic() < deadline, "the executor never started"
        time.sleep(0.05)
    assert store.advance(task_id, State.CANCELING) == State.CANCELING  # what CancelTask writes, then it cancels
    handle.cancel()
    worker.join(30)
    state, lines = landed(store, task_id).end
    assert lines[: len(notices())] == notices()
    return state, lines[len(notices()):]


def cancel_running_pod(store: Recording, *, by: str) -> tuple[State, tuple[str, ...]]:
    """A task whose Pod runs an executor when CancelTask writes CANCELING and deletes the Pod; TRec or TCtl records it."""
    task_id = store.create_task(tes_task(task_doc()))
    recorder = Recorder(store=store, source=by)
    live = pod(init={"trec": running(1), "tif": done(1, 2), "executor-0": running(3)}, phase="Running")
    recorder.record(task_id, live, pod_outcome(live))
    assert store.advance(task_id, State.CANCELING) == State.CANCELING
    going = pod(init={"trec": running(1), "tif": done(1, 2), "executor-0": running(3)}, phase="Running",
                deleted=T0.isoformat())
    if by == "trec":  # the watch's DELETED event
        recorder.record(task_id, going, deleted_outcome(going))
    else:  # TCtl's pass over a Pod seen deleted
        [action] = reconcile.decide(reconcile.Snapshot(now=T0, tasks={task_id: ("CANCELING", T0)}, pods={},
                                                       gone={task_id: going}, jobs=None))
        assert isinstance(action, reconcile.Record)
        recorder.record(task_id, action.pod, action.outcome)
    ended = landed(store, task_id)
    assert len(ended.ends) == 1, "one terminal write"
    return ended.end


def test_a_cancel_of_a_running_task_says_so_in_both(task_store, tmp_path) -> None:
    """CancelTask on a running task: the local runner kills its executor, Kubernetes deletes its Pod (TRec or
    TCtl records the deletion); all say the task was cancelled, not that its Pod was deleted."""
    local = cancel_running_locally(task_store, tmp_path)
    by_trec = cancel_running_pod(task_store, by="trec")
    by_tctl = cancel_running_pod(task_store, by="tctl")
    assert local == by_trec == by_tctl == (State.CANCELED, (lifecycle.CANCELLED_LOG,))


def test_a_cancel_of_a_waiting_task_says_so(task_store, tmp_path) -> None:
    """The local backend drops a task still in its queue: CANCELED with the same line."""
    backend = LocalBackend(task_store, settings=LocalSettings(work_dir=tmp_path / "work"), mode=process_mode())
    task_id = task_store.create_task(tes_task(task_doc()))
    backend.submit(task_id, tes_task(task_doc()))  # not started: the task waits in the queue
    assert task_store.advance(task_id, State.CANCELING) == State.CANCELING
    backend.cancel(task_id)
    assert landed(task_store, task_id).end == (State.CANCELED, (lifecycle.CANCELLED_LOG,))


def test_a_cancel_the_server_did_not_finish_says_so_after_a_restart(task_store, tmp_path) -> None:
    """A task left CANCELING by a server that stopped: the next start ends it CANCELED, the cancel's line first."""
    task_id = task_store.create_task(tes_task(task_doc()))
    task_store.advance(task_id, State.INITIALIZING)
    assert task_store.advance(task_id, State.CANCELING) == State.CANCELING
    LocalBackend(task_store, settings=LocalSettings(work_dir=tmp_path / "work"), mode=process_mode()).recover()
    assert landed(task_store, task_id).end == (State.CANCELED, (lifecycle.CANCELLED_LOG, lifecycle.RESTART_LOG))


def test_an_executor_printing_nul_and_bad_utf8_shows_the_same_stdout_in_both(task_store, tmp_path) -> None:
    """``printf 'a\\0b\\377\\n'``: each backend stores the same stdout, NUL and the stray byte as U+FFFD."""
    printed = b"a\x00b\xff\n"
    task_id = task_store.create_task(tes_task({"executors": [
        {"image": "alpine", "command": ["printf", "a\\000b\\377\\n"], "stdout": "/out/log"}]}))
    Runner(store=task_store, settings=LocalSettings(work_dir=tmp_path / "work"), mode=process_mode(),
           filer_config=filer.FilerConfig()).run(Handle(task_id))
    local = landed(task_store, task_id).task["logs"][0]["logs"][0]["stdout"]
    transfer = tmp_path / "transfer"
    (transfer / "files" / "out").mkdir(parents=True)
    (transfer / "files" / "out" / "log").write_bytes(printed)
    seen = pod(executors=1, init={"trec": running(1), "tif": done(1, 2), "executor-0": done(3, 4)})
    seen["spec"]["initContainers"][2]["env"] = [{"name": "POIESIS_STDOUT", "value": "/out/log"}]
    kube_id = task_store.create_task(tes_task(task_doc()))
    Recorder(store=task_store, transfer_dir=transfer).record(kube_id, seen, pod_outcome(seen))
    kube = landed(task_store, kube_id).task["logs"][0]["logs"][0]["stdout"]
    assert local == kube == "a\ufffdb\ufffd\n"


def test_the_state_steps_are_the_same(task_store, tmp_path, monkeypatch) -> None:
    """INITIALIZING, then RUNNING stamped with the first executor's start, then the end, in both."""
    ran = record_pods(
        task_store,
        pod(init={"trec": running(1), "tif": running(2)}),
        pod(init={"trec": running(1), "tif": done(1, 2), "executor-0": running(3)}),
        pod(init={"trec": running(1), "tif": done(1, 2), "executor-0": done(3, 4), "executor-1": running(5)}),
        pod(init={"trec": running(1), "tif": done(1, 2), "executor-0": done(3, 4), "executor-1": done(5, 6)},
            main=done(7, 8), phase="Running"),
    )
    local = local_run(task_store, tmp_path, monkeypatch)
    assert ran.first_executor_start() == T0 + timedelta(seconds=3)
    for backend in (ran, local):
        start = backend.first_executor_start()
        assert backend.steps == [(State.INITIALIZING, None), (State.RUNNING, start)]
        assert datetime.fromisoformat(backend.task["logs"][0]["start_time"]) == start, "the task started with it"
        assert backend.ends == [State.COMPLETE]
    assert local.end == (State.COMPLETE, notices())
    assert ran.end == (State.COMPLETE, ())
    # a Pod first seen running writes both steps at once
    first_seen_running = record_pods(task_store, pod(init={"trec": running(1), "tif": done(1, 2), "executor-0": running(3)}))
    assert first_seen_running.steps == [(State.INITIALIZING, None), (State.RUNNING, T0 + timedelta(seconds=3))]
    assert first_seen_running.task["state"] == State.RUNNING


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
