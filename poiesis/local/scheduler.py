"""The local backend: a bounded pool of task runners fed in creation order.

``submit`` only queues (it never blocks the API); ``max_tasks`` worker
threads take task ids from the queue, oldest first, and run each to its
terminal state. ``start`` first cleans up after a previous run of the
server: tasks it left active end SYSTEM_ERROR (their processes died with
it; a half-run task is not resumed), and QUEUED tasks are queued again.
"""

from __future__ import annotations

import collections
import logging
import shutil
import subprocess
import threading

from generated.models import TesTask
from poiesis import filer, lifecycle, scheduling
from poiesis.config.local import LocalSettings
from poiesis.config.security import is_loopback
from poiesis.lifecycle import RESTART_LOG, SHUTDOWN_LOG
from poiesis.local import engine, gpus
from poiesis.local.runner import Handle, Runner
from poiesis.parameters import Policy
from poiesis.states import State
from poiesis.store import Store

log = logging.getLogger(__name__)

_STALE = (State.INITIALIZING, State.RUNNING, State.PAUSED, State.CANCELING)


def check_exposure(mode: engine.Mode, *, host: str, allowed: bool, remote: bool = False) -> None:
    """Refuse tasks arriving from other machines unless explicitly allowed.

    Process mode needs ``allowed`` (POIESIS_LOCAL_ALLOW_UNISOLATED); any mode
    needs ``remote`` (POIESIS_LOCAL_ALLOW_REMOTE): containers run on this host too.
    """
    if is_loopback(host):
        return
    if not mode.isolated and not allowed:
        raise SystemExit(
            f"poiesis: the local backend found no container engine, so it would run tasks as host"
            f" processes, and the API listens on {host}, reachable from other machines."
            f" Install podman or docker, listen on 127.0.0.1, or set POIESIS_LOCAL_ALLOW_UNISOLATED=true."
        )
    if not remote:
        raise SystemExit(
            f"poiesis: the local backend runs tasks on this machine and the API listens on {host},"
            f" reachable from other machines. Listen on 127.0.0.1, or set POIESIS_LOCAL_ALLOW_REMOTE=true"
            f" (with POIESIS_AUTH on: docs/security.md)."
        )


class LocalBackend:
    """Runs tasks on this machine (see the package docstring)."""

    name = "local"
    writes_cancel = True
    submit_blocks = False  # a queue hand-off

    def __init__(
        self,
        store: Store,
        *,
        settings: LocalSettings | None = None,
        mode: engine.Mode | None = None,
        filer_config: filer.FilerConfig | None = None,
    ) -> None:
        self.store = store
        self.settings = settings or LocalSettings()
        self.max_task_seconds = self.settings.max_task_seconds
        self.mode = mode or engine.detect(
            engine=self.settings.engine, pull=self.settings.pull, network=self.settings.network
        )
        #: backend_parameters: ``gpu`` up to the GPUs found (none: refused) and the time limit up to the
        #: operator's maximum (a limit only shortens the task's own run); any other key is TES's "unsupported"
        self.gpus = gpus.detect(self.mode.name, declared=self.settings.gpus)
        self.parameters: Policy = Policy((*gpus.policy(self.gpus).allowances,
                                          scheduling.time_limit_allowance(self.max_task_seconds)))
        config = filer_config or filer.FilerConfig()
        self.file_roots = config.file_roots
        self.storage = filer.storage_prefixes(config.file_roots, s3_buckets=config.s3_buckets)
        self._runner = Runner(store=store, settings=self.settings, mode=self.mode, filer_config=config,
                              parameters=self.parameters)
        self._cond = threading.Condition()
        self._queue: collections.deque[str] = collections.deque()
        self._running: dict[str, Handle] = {}
        self._workers: list[threading.Thread] = []
        self._closed = False

    @property
    def service_description(self) -> str:
        """What service-info says about where tasks run."""
        if self.mode.isolated:
            return f"Tasks run on one machine, each executor in a {self.mode.name} container."
        return (
            "Tasks run on one machine in process mode: executors are host processes, their images"
            " are not used and they are not isolated."
        )

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> LocalBackend:
        """Clean up after a previous run, queue the QUEUED tasks again, start the workers."""
        self.settings.work_dir.mkdir(parents=True, exist_ok=True)
        self.recover()
        for n in range(self.settings.max_tasks):
            thread = threading.Thread(target=self._work, name=f"poiesis-local-{n}", daemon=True)
            thread.start()
            self._workers.append(thread)
        log.info(
            "local backend: %s mode, %d task(s) at once, work in %s, %d GPU(s) (%s)",
            self.mode.name, self.settings.max_tasks, self.settings.work_dir, self.gpus.count, self.gpus.how,
        )
        return self

    def recover(self) -> None:
        """End tasks a previous run left active (SYSTEM_ERROR, or CANCELED if cancelling); queue QUEUED ones."""
        for task_id in self.store.ids_in_states(_STALE):
            self._remove_leftovers(task_id)
            end = lifecycle.aborted(RESTART_LOG)
            if self.store.get_state(task_id) == State.CANCELING:  # it lands CANCELED: say so first
                end = lifecycle.cancelled(during=end)
            landed = self.store.write_terminal_state(task_id, end.state, system_logs=end.lines, ended_by="local")
            log.warning("task %s was active when the server stopped; now %s", task_id, landed)
        queued = self.store.ids_in_states([State.QUEUED])
        with self._cond:
            for task_id in queued:
                if task_id not in self._queue:
                    self._queue.append(task_id)
            self._cond.notify_all()
        if queued:
            log.info("queued %d task(s) left QUEUED by a previous run", len(queued))

    def close(self, *, timeout: float = 30.0) -> None:
        """Stop taking tasks, stop running ones (SYSTEM_ERROR), wait for the workers; QUEUED stay QUEUED."""
        with self._cond:
            self._closed = True
            running = list(self._running.values())
            self._cond.notify_all()
        for handle in running:
            handle.abort(SHUTDOWN_LOG)
        for thread in self._workers:
            thread.join(timeout)

    # -- the Backend protocol ----------------------------------------------------------

    def submit(self, task_id: str, task: TesTask) -> None:  # noqa: ARG002 - the protocol; read back when run
        """Queue the task; it runs when a slot is free (never blocks)."""
        with self._cond:
            if self._closed:
                raise RuntimeError("the local backend is shutting down")
            if task_id not in self._running and task_id not in self._queue:
                self._queue.append(task_id)
                self._cond.notify()

    def cancel(self, task_id: str) -> None:
        """Kill a running task (it lands CANCELED); a waiting one is dropped and CANCELED at once."""
        with self._cond:
            handle = self._running.get(task_id)
            if handle is None and task_id in self._queue:
                self._queue.remove(task_id)
        if handle is not None:
            handle.cancel()
        else:
            end = lifecycle.cancelled()
            self.store.write_terminal_state(task_id, end.state, system_logs=end.lines, ended_by="local")

    # -- internals -------------------------------------------------------------------

    def running(self) -> list[str]:
        """Ids of the tasks running now."""
        with self._cond:
            return list(self._running)

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                task_id = self._queue.popleft()
                handle = Handle(task_id)
                self._running[task_id] = handle
            try:
                self._runner.run(handle)
            except Exception:
                log.exception("local backend: running task %s failed", task_id)
            finally:
                with self._cond:
                    self._running.pop(task_id, None)

    def _remove_leftovers(self, task_id: str) -> None:
        """Remove what a dead server left of a task: its containers and its work directory."""
        if self.mode.isolated and self.mode.cli:
            found = subprocess.run(
                [self.mode.cli, "ps", "--all", "--quiet", "--filter", f"label={engine.TASK_LABEL}={task_id}"],
                capture_output=True, text=True, timeout=60, check=False,
            )
            ids = found.stdout.split()
            if ids:
                subprocess.run([self.mode.cli, "rm", "--force", *ids], capture_output=True, timeout=120, check=False)
        if not self.settings.keep_work_dirs:
            shutil.rmtree(self.settings.work_dir / task_id, ignore_errors=True)
