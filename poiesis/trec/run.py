"""The sidecar's life: watch one Pod, record each change, and keep reading it after SIGTERM.

A watcher thread runs the shared informer loop (``kube.informer``) on the Pod
(field selector metadata.name); after each list it opens the ready port (the
sidecar's startupProbe, so the kubelet starts ``tif`` only once nothing can
be missed). Every event is recorded under one lock.

The main thread waits for SIGTERM (the kubelet sends it once ``tof`` ended,
or when the Pod is deleted). The API server may not show ``tof`` terminated
yet at that moment (the kubelet's status write races its own SIGTERM), so
TRec reads the Pod again, every ``poll_s``, until the task's end is
visible or the grace period the kubelet allows is nearly used
(``final_deadline``), then exits; what it could not see, TCtl records. A
native sidecar must not exit by itself (it would be restarted), so TRec only
exits after SIGTERM.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, assert_never

from poiesis.kube.client import Kube
from poiesis.kube.informer import PodInformer
from poiesis.kube.outcome import (
    DEFAULT_GRACE_S,
    Deleting,
    Ended,
    Outcome,
    Waiting,
    Working,
    deleted_outcome,
    grace_period_s,
    pod_outcome,
)
from poiesis.record import Recorder
from poiesis.trec.early import Termination

log = logging.getLogger(__name__)


def final_deadline(terminated_at: float, grace_s: float) -> float:
    """When to stop re-reading after SIGTERM: the grace less a margin (10%, at least 2 s) to exit cleanly."""
    return terminated_at + max(0.0, grace_s - max(2.0, 0.1 * grace_s))


def after_sigterm(pod: Mapping[str, Any] | None) -> Ended | None:
    """What a read after SIGTERM settles: the task's end, a deletion, or None (read again)."""
    if pod is None:
        return deleted_outcome(None)
    found = pod_outcome(pod)
    match found:
        case Ended():
            return found
        case Deleting():
            return deleted_outcome(pod)
        case Waiting() | Working():
            return None
        case _:
            assert_never(found)


@dataclass
class PodRecorder:
    """Records one Pod's task until told to stop."""

    kube: Kube
    recorder: Recorder
    pod_name: str
    task_id: str
    watch_timeout_s: int = 60
    #: stops the watcher (set when TRec exits)
    stop: threading.Event = field(default_factory=threading.Event)
    landed: str | None = None
    #: resourceVersion to watch from before the first list (tests start from a stale one)
    start_version: str | None = None
    #: touched after the first successful list; the sidecar's startupProbe tests it
    ready_file: Path | None = None
    #: listened on (all addresses of the Pod) after the first successful list; the startupProbe connects
    ready_port: int | None = None
    _ready_socket: socket.socket | None = field(default=None, repr=False)
    relists: int = 0
    #: the grace period of the Pod as last seen (terminationGracePeriodSeconds)
    grace_s: int = DEFAULT_GRACE_S
    poll_s: float = 0.5
    clock: Callable[[], float] = time.monotonic
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, pod: Mapping[str, Any] | None, outcome: Outcome | None = None) -> None:
        """Record one observation of the Pod (None: the Pod is gone)."""
        with self._lock:
            if pod is not None:
                self.grace_s = grace_period_s(pod)
            if self.landed is not None:
                return
            found = outcome or (pod_outcome(pod) if pod is not None else deleted_outcome(None))
            self.landed = self.recorder.record(self.task_id, pod, found)

    def _ready(self) -> None:
        if self.ready_file is not None and not self.ready_file.exists():
            self.ready_file.parent.mkdir(parents=True, exist_ok=True)
            self.ready_file.touch()
            log.info("trec: ready (%s)", self.ready_file)
        if self.ready_port is not None and self._ready_socket is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("0.0.0.0", self.ready_port))
            sock.listen(16)  # never accepted: the kernel completes the probe's connect from the backlog
            self._ready_socket = sock
            log.info("trec: ready (listening on port %d)", self.ready_port)

    def watch(self) -> None:
        """List and watch until stopped or the terminal state landed (the watcher thread's body)."""
        informer = PodInformer(self.kube, {"field_selector": f"metadata.name={self.pod_name}"},
                               on_list=self._listed, on_event=self._event, stop=self.stop,
                               done=lambda: self.landed is not None, timeout_s=self.watch_timeout_s, retry_s=2.0,
                               version=self.start_version)
        try:
            informer.run()
        finally:
            self.relists = informer.relists

    def _listed(self, pods: list[dict[str, Any]]) -> None:
        self._ready()  # every change after this list reaches the watch that follows it
        for pod in pods:
            self.handle(pod)

    def _event(self, kind: str, pod: dict[str, Any]) -> None:
        self.handle(pod, deleted_outcome(pod) if kind == "DELETED" else None)

    def finish(self, terminated_at: float) -> None:
        """After SIGTERM: read the Pod until its end is recorded or the grace period is nearly used."""
        while self.landed is None:
            deadline = final_deadline(terminated_at, self.grace_s)
            try:
                pod = self.kube.get_pod(self.pod_name)
                self.handle(pod, after_sigterm(pod))
            except Exception:
                log.exception("reading pod %s after SIGTERM failed", self.pod_name)
            remaining = deadline - self.clock()
            if self.landed is not None or remaining <= 0:
                return
            time.sleep(min(self.poll_s, remaining))


def run(rec: PodRecorder, termination: Termination) -> int:
    """Watch until SIGTERM/SIGINT, then record until the end is visible or the grace is used; returns 0."""
    watcher = threading.Thread(target=rec.watch, name="trec-watch", daemon=True)
    watcher.start()
    log.info("trec: watching pod %s for task %s", rec.pod_name, rec.task_id)
    while not termination.event.wait(1.0):
        pass
    terminated_at = termination.at if termination.at is not None else rec.clock()
    log.info("trec: SIGTERM; recording until %.1fs of the %ds grace", final_deadline(0, rec.grace_s), rec.grace_s)
    rec.finish(terminated_at)
    rec.stop.set()
    log.info("trec: task %s %s", rec.task_id, f"ended {rec.landed}" if rec.landed else "not terminal at exit")
    return 0
