"""One task from start to terminal state, as its Pod would run it.

INITIALIZING, TIF (inputs into ROOT/files), executors one after another
(RUNNING at the first start; an executor log per executor end), TOF (output
file logs), COMPLETE. Every failure ends the task through
``write_terminal_state`` with a sanitized system log line; a cancelled task
lands CANCELED (the API wrote CANCELING first, which turns any terminal
write into CANCELED).
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from generated.models import TesExecutor, TesResources, TesTask
from poiesis import beneath, filer, images, layout, lifecycle, scheduling
from poiesis.config.local import LocalSettings
from poiesis.lifecycle import NO_PRIVATE_MOUNTS_LOG, PROCESS_MODE_LOG, End
from poiesis.local import engine, executor
from poiesis.parameters import Policy, Refused
from poiesis.retry import Backoff
from poiesis.states import State
from poiesis.store import Store, Unavailable, WriteRetry

log = logging.getLogger(__name__)


#: a terminal state is the one write a task cannot do without: about 4 minutes of retries
TERMINAL_RETRY = WriteRetry(Backoff(attempts=30, base_delay=0.5, max_delay=10.0), component="local")


class Stop(Exception):
    """The task cannot go on; ``end`` (from ``poiesis.lifecycle``) says how it ends."""

    def __init__(self, end: End) -> None:
        super().__init__(end.lines[0] if end.lines else end.state.value)
        self.end = end


@dataclass
class Handle:
    """A running task as the scheduler sees it: cancel it from any thread."""

    task_id: str

    def __post_init__(self) -> None:
        self.cancelled = threading.Event()
        self._lock = threading.Lock()
        self._current: executor.Running | None = None
        self.aborted: str | None = None
        #: when the runner took the task (monotonic), and the task's time limit in seconds (None: none)
        self.taken = time.monotonic()
        self.limit: int | None = None

    def remaining(self) -> float | None:
        """Seconds left of the task's time limit (at least 0), or None without one."""
        if self.limit is None:
            return None
        return max(0.0, self.taken + self.limit - time.monotonic())

    def check_time(self) -> None:
        """Stop the task (``lifecycle.time_limit_reached``) once its time limit has passed."""
        if self.limit is not None and self.remaining() == 0:
            raise Stop(lifecycle.time_limit_reached(self.limit))

    def cancel(self) -> None:
        """Stop the task for a CancelTask: it lands CANCELED."""
        self.cancelled.set()
        self._stop_current()

    def abort(self, reason: str) -> None:
        """Stop the task because the backend shuts down: it lands SYSTEM_ERROR saying ``reason``."""
        self.aborted = reason
        self.cancelled.set()
        self._stop_current()

    def _stop_current(self) -> None:
        with self._lock:
            current = self._current
        if current is not None:
            current.stop()

    def attach(self, running: executor.Running | None) -> None:
        with self._lock:
            self._current = running
        if running is not None and self.cancelled.is_set():
            running.stop()


@dataclass(frozen=True)
class Runner:
    """What every task run needs: the store, the settings, the executor mode, the filer config."""

    store: Store
    settings: LocalSettings
    mode: engine.Mode
    filer_config: filer.FilerConfig
    #: the backend_parameters allowed here (``gpu``); checked again before a task runs
    parameters: Policy = field(default_factory=Policy)

    def run(self, handle: Handle) -> str | None:
        """Run the task to a terminal state; returns the state that landed."""
        task_id = handle.task_id
        root = self.settings.work_dir / task_id
        outputs: list[dict[str, str]] = []
        handle.taken = time.monotonic()
        try:
            end = self._lifecycle(handle, root, outputs)
        except Stop as stop:
            end = stop.end
        except Exception as exc:
            log.exception("task %s failed in the local backend", task_id)
            end = lifecycle.backend_failed(exc)
        if handle.aborted:
            end = lifecycle.aborted(handle.aborted)
        elif handle.cancelled.is_set():
            end = lifecycle.cancelled(during=end)
        landed = self._terminal(task_id, end, outputs)
        if not self.settings.keep_work_dirs:
            shutil.rmtree(root, ignore_errors=True)
        return landed

    def _lifecycle(self, handle: Handle, root: Path, outputs: list[dict[str, str]]) -> End:
        """Run the task; its end. ``outputs`` gets the output file logs once uploaded: they go with the end."""
        task_id = handle.task_id
        self._advance(task_id, State.INITIALIZING)
        task = self.store.get_task_model(task_id)  # read back and parsed once, here
        if task is None:
            raise Stop(lifecycle.task_vanished())
        handle.limit = scheduling.time_limit(task.resources.backend_parameters if task.resources else None,
                                       self.settings.max_task_seconds)
        try:
            mapped = layout.mounts(task)
        except layout.LayoutError as exc:
            raise Stop(lifecycle.unmappable(str(exc))) from exc
        gpus = self._gpus(task)
        if self.mode.isolated:
            self._check_executors(task_id, task)
        self._prepare(root, mapped)
        if not self.mode.isolated:
            lines = [PROCESS_MODE_LOG] + ([] if self.mode.private_mounts else [NO_PRIVATE_MOUNTS_LOG])
            self.store.add_system_logs(task_id, lines)
        self._fetch_inputs(task, root)
        for index, ex in enumerate(task.executors):
            self._check_cancel(handle)
            handle.check_time()
            result = self._run_executor(handle, task_id=task_id, index=index, executor_spec=ex, root=root, mapped=mapped,
                                        resources=task.resources, gpus=gpus)
            if result.cancelled or handle.cancelled.is_set():
                raise Stop(lifecycle.cancelled())
            if result.exit_code != 0 and not ex.ignore_error:
                return lifecycle.executor_failed(index, result.exit_code)
        self._check_cancel(handle)
        handle.check_time()
        outputs.extend(self._upload_outputs(task, root))
        return lifecycle.completed()

    def _gpus(self, task: TesTask) -> int:
        """The GPUs the task asked for; the settings are checked again (they may have changed since CreateTask)."""
        try:
            params = self.parameters.check(task.resources.backend_parameters if task.resources else None)
        except Refused as exc:
            raise Stop(lifecycle.submission_failed("local", exc)) from exc
        return int(params.get("gpu", 0))

    def _check_executors(self, task_id: str, task: TesTask) -> None:
        """Container mode: refuse the task before anything runs if an executor cannot be given to the engine.

        Its image must be a valid reference (``poiesis.images``) and its env
        fit an env file (``engine.env_file_problem``).
        """
        for index, ex in enumerate(task.executors):
            problem = images.reference_problem(f"executors[{index}].image", ex.image)
            problem = problem or engine.env_file_problem(index, ex.env)
            if problem is not None:
                log.warning("task %s executor #%d: %s", task_id, index, problem)
                raise Stop(lifecycle.executor_not_run(index, problem))

    def _advance(self, task_id: str, target: State, *, at: datetime | None = None) -> None:
        landed = self.store.advance(task_id, target, at=at)
        if landed is None:
            raise Stop(lifecycle.task_vanished())
        if landed == State.CANCELING:
            raise Stop(lifecycle.cancelled())
        if landed != target:
            raise Stop(lifecycle.ended_as(landed))

    def _check_cancel(self, handle: Handle) -> None:
        if handle.cancelled.is_set() or self.store.get_state(handle.task_id) == State.CANCELING:
            raise Stop(lifecycle.cancelled())

    def _prepare(self, root: Path, mapped: list[layout.Mount]) -> None:
        shutil.rmtree(root, ignore_errors=True)
        for directory in (layout.files_root(root), layout.state_dir(root), root / layout.TMP_DIR):
            directory.mkdir(parents=True, exist_ok=True)
        for m in mapped:
            if m.is_dir:
                layout.host_path(root, m.path).mkdir(parents=True, exist_ok=True)

    def _fetch_inputs(self, task: TesTask, root: Path) -> None:
        try:
            filer.fetch_inputs(task.inputs or [], root=root, config=self.filer_config)
        except filer.FilerError as exc:
            raise Stop(lifecycle.filer_failed("in", str(exc))) from exc

    def _upload_outputs(self, task: TesTask, root: Path) -> list[dict[str, str]]:
        """Upload the outputs; their file logs, written with the end (``_terminal``)."""
        try:
            return filer.upload_outputs(task.outputs or [], root=root, config=self.filer_config)
        except filer.FilerError as exc:
            raise Stop(lifecycle.filer_failed("out", str(exc))) from exc

    def _run_executor(
        self,
        handle: Handle,
        *,
        task_id: str,
        index: int,
        executor_spec: TesExecutor,
        root: Path,
        mapped: list[layout.Mount],
        resources: TesResources | None = None,
        gpus: int = 0,
    ) -> executor.Result:
        launch = self._plan(executor_spec, task_id=task_id, index=index, root=root, mapped=mapped,
                            resources=resources, gpus=gpus)
        first = index == 0

        def started(running: executor.Running) -> None:
            handle.attach(running)
            if first:
                try:
                    self._advance(task_id, State.RUNNING, at=running.started_at)
                except Stop:
                    handle.cancel()

        try:
            result = executor.run(
                launch, tail_bytes=self.settings.tail_bytes, engine_cli=self.mode.cli, on_start=started,
                timeout=handle.remaining(),
            )
        except beneath.Unsafe as exc:
            log.warning("task %s executor #%d: refused: %s", task_id, index, exc)
            raise Stop(lifecycle.executor_refused(index, str(exc))) from exc
        finally:
            handle.attach(None)
        self.store.add_executor_log(
            task_id, index=index, exit_code=result.exit_code, start_time=result.start, end_time=result.end,
            stdout=result.stdout, stderr=result.stderr,
        )
        if result.timed_out and handle.limit is not None:
            raise Stop(lifecycle.time_limit_reached(handle.limit))
        if self.mode.isolated and result.exit_code == executor.ENGINE_FAILED:
            line = _engine_error(result.stderr)
            if line:
                raise Stop(lifecycle.engine_failed(index, self.mode.name, line))
        return result

    def _plan(
        self, spec: TesExecutor, *, task_id: str, index: int, root: Path, mapped: list[layout.Mount],
        resources: TesResources | None = None, gpus: int = 0,
    ) -> engine.Launch:
        stdio = self._stdio(spec, root=root, index=index)
        if self.mode.isolated:
            try:
                return engine.plan_container(
                    spec, mode=self.mode, task_id=task_id, index=index, root=root, mapped=mapped, stdio=stdio,
                    resources=resources, gpus=gpus,
                )
            except (engine.ImageRefused, engine.EnvRefused) as exc:
                log.warning("task %s executor #%d: %s", task_id, index, exc)
                raise Stop(lifecycle.executor_not_run(index, str(exc))) from exc
        workdir = spec.workdir
        if workdir:
            try:
                beneath.make_dirs(root, layout.host_path(root, workdir))
            except beneath.Unsafe as exc:
                raise Stop(lifecycle.executor_refused(index, f"workdir {workdir}: {exc}")) from exc
        return engine.plan_process(
            spec, mode=self.mode, root=root, mapped=mapped, stdio=stdio, path=self.settings.process_path
        )

    def _stdio(self, spec: TesExecutor, *, root: Path, index: int) -> tuple[Path | None, Path, Path]:
        """Host files for stdin/stdout/stderr: the TES paths given, else files in ROOT/.poiesis.

        Each is checked now, and opened again at start, without following
        links (``beneath``): an earlier executor may have planted one.
        """
        given = {"stdin": spec.stdin, "stdout": spec.stdout, "stderr": spec.stderr}
        stdin = layout.host_path(root, spec.stdin) if spec.stdin else None
        out = [
            layout.host_path(root, path) if (path := given[stream]) else layout.stream_file(root, index, stream)
            for stream in layout.STREAMS
        ]
        for stream, host in (("stdin", stdin), ("stdout", out[0]), ("stderr", out[1])):
            if host is None:
                continue
            try:
                os.close(beneath.open_file(root, host, write=stream != "stdin"))
            except FileNotFoundError as exc:
                raise Stop(lifecycle.executor_refused(index, f"{stream} {given[stream]} does not exist")) from exc
            except beneath.Unsafe as exc:
                log.warning("task %s executor #%d: %s refused: %s", root.name, index, stream, exc)
                raise Stop(lifecycle.executor_refused(index, f"{stream} {given[stream]}: {exc}")) from exc
        return stdin, out[0], out[1]

    def _terminal(self, task_id: str, end: End, outputs: list[dict[str, str]]) -> str | None:
        """Write the terminal state with its output file logs, retrying while the database is unreachable."""
        try:
            return TERMINAL_RETRY(
                lambda: self.store.write_terminal_state(task_id, end.state, system_logs=end.lines, ended_by="local",
                                                        outputs=outputs)
            )
        except Unavailable:
            log.error("gave up writing %s for task %s; the next start ends it", end.state, task_id)
            return None


def _engine_error(stderr: str) -> str | None:
    """The engine's own error line (podman ``Error: ...``, docker ``docker: ...``), if it failed."""
    for line in reversed(stderr.strip().splitlines()):
        if line.startswith(("Error:", "Error response", "docker:")):
            return line[:500]
    return None

