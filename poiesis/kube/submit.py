"""Submission off the request path: a bounded queue of stored tasks and the threads that submit them.

CreateTask stores a task QUEUED, hands it to ``Submitter.offer`` and answers;
``offer`` never blocks. ``workers`` threads take tasks in arrival order and
call ``submit(task_id, task)`` (``KubeBackend.submit_now``: Job, Secret, PVC,
each step after the one before). A task is queued or in flight at most once
per process: offering an id that is still pending does nothing (the pending
submission covers it), so TCtl's repeated sweeps never pile up.

Back-pressure: at most ``capacity`` tasks wait. When the queue is full,
``offer`` returns False and the task is not queued; it stays QUEUED in the
database, which is the record of what must run, and TCtl's sweep submits it
once it is older than ``POIESIS_KUBE_QUEUED_GRACE``. A crash loses the queue
the same way and the sweep recovers it the same way: at least once, never lost.

``withdraw`` drops a task that is still waiting (a cancel before submission);
it cannot stop one already in flight (``submit_now`` checks the state after
creating the Job for that).

Must not: talk to the cluster or the database itself (``submit`` does), or
block the caller of ``offer``.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
from collections.abc import Callable, Iterator

from generated.models import TesTask
from poiesis import logs, metrics

log = logging.getLogger(__name__)

SubmitFn = Callable[[str, TesTask], None]


class Submitter:
    """A bounded FIFO of (task id, task) and the worker threads draining it."""

    def __init__(self, submit: SubmitFn, *, workers: int, capacity: int, name: str = "kube-submit") -> None:
        self._submit = submit
        self.capacity = capacity
        self._queue: collections.OrderedDict[str, TesTask] = collections.OrderedDict()
        self._in_flight: set[str] = set()
        self._cond = threading.Condition()
        self._stopped = False
        self._held = False
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True) for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def offer(self, task_id: str, task: TesTask) -> bool:
        """Queue a task for submission; False when the queue is full (the sweep will submit it)."""
        with self._cond:
            if task_id in self._queue or task_id in self._in_flight:
                return True
            if len(self._queue) >= self.capacity or self._stopped:
                return False
            self._queue[task_id] = task
            metrics.KUBE_SUBMIT_QUEUE.set(len(self._queue))
            self._cond.notify()
            return True

    def withdraw(self, task_id: str) -> bool:
        """Drop a task that waits in the queue; True when it was there (nothing was created for it)."""
        with self._cond:
            found = self._queue.pop(task_id, None) is not None
            metrics.KUBE_SUBMIT_QUEUE.set(len(self._queue))
            return found

    def pending(self) -> int:
        """Tasks queued or in flight."""
        with self._cond:
            return len(self._queue) + len(self._in_flight)

    def drain(self, timeout: float) -> bool:
        """Wait until nothing is queued or in flight; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._in_flight, timeout)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Workers take no new task inside the block (tasks are still queued); they resume after it."""
        with self._cond:
            self._held = True
        try:
            yield
        finally:
            with self._cond:
                self._held = False
                self._cond.notify_all()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop taking tasks; what still waits stays QUEUED for the sweep."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout)

    def _next(self) -> tuple[str, TesTask] | None:
        with self._cond:
            self._cond.wait_for(lambda: (self._queue and not self._held) or self._stopped)
            if self._stopped:
                return None
            task_id, task = self._queue.popitem(last=False)
            self._in_flight.add(task_id)
            metrics.KUBE_SUBMIT_QUEUE.set(len(self._queue))
            return task_id, task

    def _done(self, task_id: str) -> None:
        with self._cond:
            self._in_flight.discard(task_id)
            self._cond.notify_all()

    def _work(self) -> None:
        while (item := self._next()) is not None:
            task_id, task = item
            try:
                with logs.task(task_id):
                    self._submit(task_id, task)
            except Exception:  # a worker outlives any one task; submit logs its own failures
                log.exception("submitting task %s failed unexpectedly; it stays QUEUED for the sweep", task_id)
            finally:
                self._done(task_id)
