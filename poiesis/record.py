"""From an observed Pod to idempotent store writes; used by TRec and by TCtl.

Its own module, below both (TRec and TCtl never import each other), above
``kube`` and ``store``, which it joins.

Level-triggered: every call derives everything from the whole Pod, and every
write is idempotent (guarded state moves, one executor log per index, output
logs keyed by index, write-once terminal state), so a write lost to a
database blip is redone by the next event, and TRec and TCtl may both record
the same Pod. The system log lines saying why the task ended travel with the
terminal write and land only if that write does, so the task carries the
reason of whoever ended it and never a contradicting line from the loser.
Times come from the Pod's container statuses, not from the database clock.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, assert_never, cast

from poiesis import layout, lifecycle, logs, states
from poiesis.kube.client import Kube
from poiesis.kube.outcome import (
    Deleting,
    Ended,
    ExecutorResult,
    Initializing,
    Outcome,
    Progress,
    Running,
    Waiting,
    Working,
)
from poiesis.store import Store, WriteRetry

log = logging.getLogger(__name__)


def read_outputs(transfer_dir: Path) -> list[dict[str, Any]] | None:
    """TOF's output file logs (``layout.outputs_file``), or None when they are not there."""
    try:
        return cast(list[dict[str, Any]], json.loads(layout.outputs_file(transfer_dir).read_text()))  # TOF wrote it
    except FileNotFoundError:
        return None


def _file_tail(path: Path, limit: int) -> str | None:
    try:
        with path.open("rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - limit))
            return f.read().decode("utf-8", errors="ignore")
    except OSError:
        return None


@dataclass
class Recorder:
    """Writes what Pods say about their tasks; remembers what it already wrote."""

    store: Store
    kube: Kube | None = None
    transfer_dir: Path | None = None
    log_tail_bytes: int = 10_000
    retry: WriteRetry = field(default_factory=WriteRetry)
    source: str = "trec"
    _advanced: dict[str, str] = field(default_factory=dict)
    _logged: dict[str, set[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.retry.component != self.source:  # retries count under the component that writes
            self.retry = dataclasses.replace(self.retry, component=self.source)

    def record(self, task_id: str, pod: Mapping[str, Any] | None, outcome: Outcome) -> str | None:
        """Write progress, executor logs and, when the outcome has one, the terminal state; returns it."""
        with logs.task(task_id):
            return self._record(task_id, pod, outcome)

    def _record(self, task_id: str, pod: Mapping[str, Any] | None, outcome: Outcome) -> str | None:
        match outcome:
            case Waiting(progress=progress) | Working(progress=progress) | Deleting(progress=progress):
                self._progress(task_id, pod, progress)
                return None
            case Ended():
                for result in outcome.executors:
                    self._executor_log(task_id, pod, result)
                return self._terminal(task_id, outcome)
            case _:
                assert_never(outcome)

    def _progress(self, task_id: str, pod: Mapping[str, Any] | None, progress: Progress | None) -> None:
        """INITIALIZING, or RUNNING from the first executor's start and the log of every executor that ended."""
        match progress:
            case None:
                pass
            case Initializing():
                self._advance(task_id, progress.state, at=None)
            case Running():
                self._advance(task_id, progress.state, at=progress.start_time)
                for result in progress.executors:
                    self._executor_log(task_id, pod, result)
            case _:
                assert_never(progress)

    def forget(self, task_id: str) -> None:
        """Drop what is remembered about a finished task."""
        self._advanced.pop(task_id, None)
        self._logged.pop(task_id, None)

    def _advance(self, task_id: str, target: states.State, *, at: datetime | None) -> None:
        """Write the steps up to ``target`` not written yet (``lifecycle.steps``); ``at`` stamps ``target``."""
        for step in lifecycle.steps(self._advanced.get(task_id), target):
            self.retry(functools.partial(self.store.advance, task_id, step, at=at if step is target else None))
            self._advanced[task_id] = step

    def _executor_log(self, task_id: str, pod: Mapping[str, Any] | None, result: ExecutorResult) -> None:
        seen = self._logged.setdefault(task_id, set())
        if result.index in seen:
            return
        stdout, stderr = self._tails(pod, result.index)
        self.retry(
            lambda: self.store.add_executor_log(
                task_id,
                index=result.index,
                exit_code=result.exit_code,
                start_time=result.start_time,
                end_time=result.end_time,
                stdout=stdout,
                stderr=stderr,
            )
        )
        seen.add(result.index)

    def _tails(self, pod: Mapping[str, Any] | None, index: int) -> tuple[str | None, str | None]:
        """stdout/stderr tails: the redirected files on the task volume, else the container log."""
        if pod is None or self.log_tail_bytes <= 0:
            return None, None
        name = f"executor-{index}"
        container: Mapping[str, Any] = next((c for c in (pod.get("spec") or {}).get("initContainers") or [] if c["name"] == name), {})
        env = {e["name"]: e.get("value") for e in container.get("env") or []}
        tails: dict[str, str | None] = {"stdout": None, "stderr": None}
        for stream in tails:
            path = env.get(f"POIESIS_{stream.upper()}")
            if path and self.transfer_dir is not None:
                tails[stream] = _file_tail(layout.host_path(self.transfer_dir, path), self.log_tail_bytes)
        if tails["stdout"] is None and not env.get("POIESIS_STDOUT") and self.kube is not None:
            tails["stdout"] = self.kube.log_tail(pod["metadata"]["name"], name, max_bytes=self.log_tail_bytes)
        return tails["stdout"], tails["stderr"]

    def _terminal(self, task_id: str, outcome: Ended) -> str | None:
        state, lines = outcome.end.state, list(outcome.end.lines)
        if state is states.State.COMPLETE and self.transfer_dir is not None:  # tof wrote the output file logs
            outputs = read_outputs(self.transfer_dir)
            if outputs is None:
                lines.append(lifecycle.OUTPUTS_MISSING)
            elif outputs:
                self.retry(lambda: self.store.add_output_file_logs(task_id, outputs))
        landed = self.retry(
            lambda: self.store.write_terminal_state(
                task_id,
                state,
                start_time=outcome.start_time,
                end_time=outcome.end_time,
                system_logs=lines,
                ended_by=self.source,
            )
        )
        log.info("%s: task %s -> %s (landed %s)", self.source, task_id, state, landed)
        return landed
