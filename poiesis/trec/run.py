"""The sidecar's life: watch one Pod, record each change, read it once more on SIGTERM.

A watcher thread lists the Pod (field selector metadata.name), then watches
from the list's resourceVersion; 410 Gone means list again, any other error
waits and retries. Every event is recorded under one lock. The main thread
waits for SIGTERM (the kubelet sends it when the task's containers are done,
or when the Pod is deleted), then reads the Pod a last time and records it,
so the terminal state lands even if the watch had not delivered the last
change. A native sidecar must not exit by itself (it would be restarted), so
TRec only exits after SIGTERM.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from poiesis.kube.client import Expired, Kube
from poiesis.kube.outcome import Outcome, deleted_outcome, pod_outcome
from poiesis.trec.record import Recorder

log = logging.getLogger(__name__)


@dataclass
class PodRecorder:
    """Records one Pod's task until told to stop."""

    kube: Kube
    recorder: Recorder
    pod_name: str
    task_id: str
    watch_timeout_s: int = 60
    stop: threading.Event = field(default_factory=threading.Event)
    landed: str | None = None
    #: resourceVersion to watch from before the first list (tests start from a stale one)
    start_version: str | None = None
    relists: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, pod: Mapping[str, Any] | None, outcome: Outcome | None = None) -> None:
        """Record one observation of the Pod (None: the Pod is gone)."""
        with self._lock:
            if self.landed is not None:
                return
            found = outcome or (pod_outcome(pod) if pod is not None else deleted_outcome(None))
            self.landed = self.recorder.record(self.task_id, pod, found)

    def watch(self) -> None:
        """List and watch until stopped or the terminal state landed (the watcher thread's body)."""
        selector = {"field_selector": f"metadata.name={self.pod_name}"}
        version: str | None = self.start_version
        while not self.stop.is_set() and self.landed is None:
            try:
                if version is None:
                    pods, version = self.kube.list_pods(**selector)
                    for pod in pods:
                        self.handle(pod)
                for kind, obj in self.kube.watch_pods(resource_version=version, timeout_s=self.watch_timeout_s, **selector):
                    version = obj["metadata"]["resourceVersion"]
                    if kind == "BOOKMARK":
                        continue
                    if kind == "DELETED":
                        self.handle(obj, deleted_outcome(obj))
                    else:
                        self.handle(obj)
                    if self.stop.is_set() or self.landed is not None:
                        return
            except Expired:
                log.info("watch expired (410); listing again")
                self.relists += 1
                version = None
            except Exception:
                log.exception("watching pod %s failed; retrying", self.pod_name)
                self.stop.wait(2.0)

    def final(self) -> None:
        """SIGTERM: read the Pod once more and record what it says; a deleting Pod ends the task."""
        pod = self.kube.get_pod(self.pod_name)
        if pod is None:
            self.handle(None, deleted_outcome(None))
            return
        found = pod_outcome(pod)
        if found.state is None and found.deleting:
            found = deleted_outcome(pod)
        self.handle(pod, found)


def run(rec: PodRecorder, *, install_signals: bool = True) -> int:
    """Watch until SIGTERM/SIGINT, then record the Pod one last time; returns the exit code."""
    if install_signals:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: rec.stop.set())
    watcher = threading.Thread(target=rec.watch, name="trec-watch", daemon=True)
    watcher.start()
    log.info("trec: watching pod %s for task %s", rec.pod_name, rec.task_id)
    while not rec.stop.wait(1.0):
        pass
    deadline = time.monotonic() + 20
    while rec.landed is None and time.monotonic() < deadline:
        try:
            rec.final()
            break
        except Exception:
            log.exception("final read of pod %s failed", rec.pod_name)
            time.sleep(1.0)
    log.info("trec: task %s %s", rec.task_id, f"ended {rec.landed}" if rec.landed else "not terminal at exit")
    return 0
