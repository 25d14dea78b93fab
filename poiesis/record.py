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
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, assert_never

from poiesis import beneath, layout, lifecycle, logs, states
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
from poiesis.sanitize import storable
from poiesis.store import RunWriter, Unavailable, WriteRetry

log = logging.getLogger(__name__)
T = TypeVar("T")

#: outputs.json larger than this is not read (tof writes about 200 bytes per file: 300,000 files)
OUTPUTS_MAX_BYTES = 64 << 20
#: outputs.json is a list of flat objects: nothing nests deeper
OUTPUTS_MAX_DEPTH = 2
#: the most of an output's url or path stored, in UTF-8 bytes
OUTPUT_FIELD_MAX_BYTES = 16 << 10
#: size_bytes is a bigint
_SIZE_MAX = 2**63 - 1
#: a JSON string (skipped whole, escapes and all) or a bracket: what the depth check looks at
_JSON_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


class OutputsUnreadable(Exception):
    """outputs.json is there but cannot be used; the message says why (no content of the file)."""


def read_outputs(transfer_dir: Path) -> list[dict[str, str]] | None:
    """TOF's output file logs (``layout.outputs_file``), or None when they are not there.

    The task volume is the executors' too: the file is opened without following a link at
    any component (``beneath``), read only up to ``OUTPUTS_MAX_BYTES``, and parsed by
    ``parse_outputs``; ``OutputsUnreadable`` says why it cannot be used.
    """
    path = layout.outputs_file(transfer_dir)
    try:
        data = beneath.read_bounded(transfer_dir, path, OUTPUTS_MAX_BYTES)
    except FileNotFoundError:
        return None
    except beneath.Unsafe as exc:
        raise OutputsUnreadable(str(exc)) from None
    except OSError as exc:
        raise OutputsUnreadable(f"{layout.STATE_DIR}/{layout.OUTPUTS_FILE}: {exc.strerror or type(exc).__name__}") from None
    return parse_outputs(data)


def _depth_problem(data: bytes) -> str | None:
    depth = 0
    for token in _JSON_TOKEN.finditer(data):
        bracket = token.group()
        if bracket in (b"[", b"{"):
            depth += 1
            if depth > OUTPUTS_MAX_DEPTH:
                return f"nested deeper than {OUTPUTS_MAX_DEPTH}"
        elif bracket in (b"]", b"}"):
            depth -= 1
    return None


def _entry(i: int, item: object) -> dict[str, str]:
    if not isinstance(item, dict):
        raise OutputsUnreadable(f"entry {i} is not an object")
    entry: dict[str, str] = {}
    for key in ("url", "path"):
        value = item.get(key)
        if value is None:
            raise OutputsUnreadable(f"entry {i} has no {key}")
        if not isinstance(value, str):
            raise OutputsUnreadable(f"entry {i} has a {key} that is not a string")
        entry[key] = storable(value, OUTPUT_FIELD_MAX_BYTES)
    size = item.get("size_bytes")
    if size is None:
        raise OutputsUnreadable(f"entry {i} has no size_bytes")
    if isinstance(size, str) and size.isascii() and size.isdigit() and len(size) <= 19:
        size = int(size)
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= _SIZE_MAX:
        raise OutputsUnreadable(f"entry {i} has an invalid size_bytes")
    entry["size_bytes"] = str(size)
    return entry


def parse_outputs(data: bytes) -> list[dict[str, str]]:
    """outputs.json's output file logs, each url and path made storable (``sanitize``).

    Bounded: a nesting deeper than ``OUTPUTS_MAX_DEPTH`` is refused before parsing, and
    every entry must be an object with a string ``url`` and ``path`` and a ``size_bytes``
    (a number, or its decimal text, that fits a bigint). ``OutputsUnreadable`` otherwise.
    """
    problem = _depth_problem(data)
    if problem is not None:
        raise OutputsUnreadable(problem)
    try:
        found = json.loads(data)
    except (ValueError, RecursionError):
        raise OutputsUnreadable("not JSON") from None
    if not isinstance(found, list):
        raise OutputsUnreadable("not a list of output file logs")
    return [_entry(i, item) for i, item in enumerate(found)]


@dataclass
class Recorder:
    """Writes what Pods say about their tasks; remembers what it already wrote."""

    store: RunWriter
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
        stdout, stderr, notices = self._tails(pod, result.index)
        new, refused = self._refusable(functools.partial(
            self.store.add_executor_log,
            task_id,
            index=result.index,
            exit_code=result.exit_code,
            start_time=result.start_time,
            end_time=result.end_time,
            stdout=stdout,
            stderr=stderr,
        ))
        if refused is not None:
            new, notices = True, [lifecycle.write_refused(f"the log of executor #{result.index}", refused)]
        if new and notices:  # once: only with the executor log that landed now
            self.retry(functools.partial(self.store.add_system_logs, task_id, notices))
        seen.add(result.index)

    def _refusable(self, write: Callable[[], T]) -> tuple[T | None, Exception | None]:
        """Run ``write`` (retried while the database is unavailable); a refusal for any other reason is returned.

        A write the database refuses for the data it carries (psycopg's ``DataError`` for a
        NUL byte or a number out of range, ``UnicodeEncodeError`` for a lone surrogate) is
        refused the same way every time: raised, it would make TRec's informer and TCtl's
        next pass record the Pod again, forever, and the task would never end. Everything
        this recorder writes is made storable first (``sanitize``); this is the backstop.
        """
        try:
            return self.retry(write), None
        except Unavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - any refusal but unavailability repeats; see above
            log.warning("%s: the database refused a write (%s): %s", self.source, type(exc).__name__, exc)
            return None, exc

    def _tails(self, pod: Mapping[str, Any] | None, index: int) -> tuple[str | None, str | None, list[str]]:
        """stdout/stderr tails (storable), from the redirected files on the task volume, else the container log.

        A redirected file is read beneath the task volume without following links, at most
        ``log_tail_bytes`` of it (``beneath.read_tail``): the executor could have replaced it
        by a link to a file of TRec's (its token) or a FIFO. Such a file is not read; the
        third item holds the system log line saying so.
        """
        if pod is None or self.log_tail_bytes <= 0:
            return None, None, []
        name = f"executor-{index}"
        container: Mapping[str, Any] = next((c for c in (pod.get("spec") or {}).get("initContainers") or [] if c["name"] == name), {})
        env = {e["name"]: e.get("value") for e in container.get("env") or []}
        tails: dict[str, str | None] = {"stdout": None, "stderr": None}
        notices: list[str] = []
        for stream in tails:
            path = env.get(f"POIESIS_{stream.upper()}")
            if path and self.transfer_dir is not None:
                try:
                    data = beneath.read_tail(self.transfer_dir, layout.host_path(self.transfer_dir, path), self.log_tail_bytes)
                except beneath.Unsafe as exc:
                    log.warning("%s of executor #%d not read: %s", stream, index, exc)
                    notices.append(lifecycle.stream_not_read(stream, index))
                except (OSError, ValueError) as exc:  # missing, or a path that cannot be one (LayoutError)
                    log.info("%s of executor #%d not read: %s", stream, index, exc)
                else:
                    tails[stream] = storable(data, self.log_tail_bytes, keep="tail")
        if tails["stdout"] is None and not env.get("POIESIS_STDOUT") and self.kube is not None:
            text = self.kube.log_tail(pod["metadata"]["name"], name, max_bytes=self.log_tail_bytes)
            tails["stdout"] = storable(text, self.log_tail_bytes, keep="tail") if text is not None else None
        return tails["stdout"], tails["stderr"], notices

    def _end(self, task_id: str, end: lifecycle.End) -> lifecycle.End:
        """The end to write: a task cancelling ends cancelled (``lifecycle.cancelled``), the Pod's end after its line.

        A cancel deletes the Pod after CancelTask wrote CANCELING, so the deletion it caused is
        always seen with the task CANCELING; that deletion is the cancel, not something it
        interrupted.
        """
        if end.state is states.State.CANCELED:
            return end
        if self.retry(functools.partial(self.store.get_state, task_id)) != states.State.CANCELING:
            return end
        return lifecycle.cancelled(None if end == lifecycle.pod_deleted() else end)

    def _outputs(self, task_id: str, outcome: Ended, lines: list[str]) -> list[dict[str, str]]:
        """The output file logs to write with a COMPLETE end (TOF's ``outputs.json``); a line in ``lines`` when none.

        A recorder without the task volume (TCtl) cannot read them: when the task declared
        outputs, the end says they were not recorded (``lifecycle.OUTPUTS_NOT_RECORDED``).
        """
        if outcome.end.state is not states.State.COMPLETE:
            return []
        if self.transfer_dir is None:
            if self.retry(functools.partial(self.store.declares_outputs, task_id)):
                lines.append(lifecycle.OUTPUTS_NOT_RECORDED)
            return []
        try:
            outputs = read_outputs(self.transfer_dir)
        except OutputsUnreadable as exc:
            log.warning("outputs.json not used: %s", exc)
            lines.append(lifecycle.outputs_unreadable(str(exc)))
            return []
        if outputs is None:
            lines.append(lifecycle.OUTPUTS_MISSING)
            return []
        return outputs

    def _terminal(self, task_id: str, outcome: Ended) -> str | None:
        """The end, its lines and its output file logs in one write (``Store.write_terminal_state``).

        What the database refuses for its data is left out step by step, each time saying
        so: first the output file logs, then the lines; the end itself always lands.
        """
        end = self._end(task_id, outcome.end)
        lines = list(end.lines)
        outputs = self._outputs(task_id, outcome, lines)
        write = functools.partial(self.store.write_terminal_state, task_id, end.state, start_time=outcome.start_time,
                                  end_time=outcome.end_time, ended_by=self.source)
        lines = [lifecycle.clip(line) for line in lines]
        landed, refused = self._refusable(functools.partial(write, system_logs=lines, outputs=outputs))
        if refused is not None and outputs:
            lines.append(lifecycle.write_refused("the output file logs", refused))
            landed, refused = self._refusable(functools.partial(write, system_logs=lines))
        if refused is not None:  # nothing but the lines is free text: without them it lands
            landed = self.retry(functools.partial(
                write, system_logs=[lifecycle.write_refused("this end's system log lines", refused)]))
        log.info("%s: task %s -> %s (landed %s)", self.source, task_id, end.state, landed)
        return landed
