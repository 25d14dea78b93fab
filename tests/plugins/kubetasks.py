"""Tasks on the test cluster: a namespace per test, the kube backend, TRec processes, TCtl replicas.

Builds on tests.plugins.kube (the cluster) and tests.plugins.pg (the
database). KWOK runs no containers: it writes the statuses a kubelet would,
so TRec runs here as a local ``poiesis trec`` process watching the Pod, and
this plugin plays the kubelet's remaining parts: it waits for TRec's ready
file (the sidecar's startupProbe) and sends TRec SIGTERM when the Pod's
trec container is stopped (or the Pod is gone). KWOK does not run probes, so
a test that needs tif to wait for TRec, as the startupProbe makes it on a
kubelet, submits with ``submit_gated``: the Pod carries a scheduling gate that
``start_trec`` removes once TRec is ready.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from starlette.testclient import TestClient

from poiesis import store
from poiesis.config.kube import KubeSettings
from poiesis.kube import build
from poiesis.kube.backend import KubeBackend
from poiesis.kube.client import Kube
from poiesis.tctl.controller import Controller
from tests.tasks import tes_task


def wait_for(predicate: Callable[[], Any], *, timeout: float = 30, every: float = 0.2, what: str = "condition") -> Any:
    """Poll until ``predicate`` returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


@pytest.fixture
def kube_ns(kube_cluster: Any) -> Iterator[str]:
    """A fresh namespace (with its default ServiceAccount) for one test; deleted afterwards."""
    core = k8s.CoreV1Api(kube_cluster.api)
    name = f"t-{uuid.uuid4().hex[:10]}"
    core.create_namespace({"metadata": {"name": name}})
    wait_for(lambda: core.list_namespaced_service_account(name).items, what="default ServiceAccount")
    try:
        yield name
    finally:
        core.delete_namespace(name, propagation_policy="Background")


@pytest.fixture
def kube_settings(kubeconfig: Path, kube_ns: str) -> KubeSettings:
    """Settings for the test namespace with short timeouts, allowing the backend_parameters the tests use."""
    return KubeSettings(
        namespace=kube_ns,
        allowed_priority_classes=("p", "no-such-class"),
        allowed_runtime_classes=("no-such-class",),
        allowed_node_selectors=("pool",),
        max_task_seconds=600,
        kubeconfig=str(kubeconfig),
        ttl_seconds_after_finished=None,
        pending_timeout_s=3,
        queued_grace_s=2,
        lease_duration_s=3,
        lease_renew_s=0.5,
        resync_s=1,
    )


@pytest.fixture
def kube(kube_cluster: Any, kube_settings: KubeSettings) -> Kube:
    """The adapter on the test namespace."""
    return Kube(kube_cluster.api, kube_settings.namespace)


@pytest.fixture
def kube_backend(kube_settings: KubeSettings, kube: Kube) -> KubeBackend:
    return KubeBackend(kube_settings, kube)


TREC_GATE = "poiesis.io/test-trec-ready"


@pytest.fixture
def submit_gated(task_store: store.Store, kube_backend: KubeBackend, kube_settings: KubeSettings) -> Callable[..., str]:
    """Submit a task whose Pod stays unscheduled until ``start_trec`` saw TRec ready (the startupProbe's effect)."""

    def submit(task: dict[str, Any]) -> str:
        task_id = task_store.create_task(tes_task(task))
        manifest = build.build_job(task_id, tes_task(task), kube_settings)
        manifest["spec"]["template"]["spec"]["schedulingGates"] = [{"name": TREC_GATE}]
        kube_backend.create(task_id, tes_task(task), manifest)
        return task_id

    return submit


def _open_gate(kube: Kube, trec: Trec) -> None:
    """Once TRec is ready, let a gated Pod run (the kubelet starting tif after the startupProbe passed)."""
    pod = kube.get_pod(trec.pod) or {}
    if any(g.get("name") == TREC_GATE for g in (pod.get("spec") or {}).get("schedulingGates") or []):
        wait_for(lambda: trec.proc.poll() is not None or trec.ready_file.exists(), timeout=60, what="trec ready")
        kube.core.patch_namespaced_pod(trec.pod, kube.namespace, [{"op": "remove", "path": "/spec/schedulingGates"}])


def task_pod(kube: Kube, task_id: str) -> dict[str, Any] | None:
    pods, _ = kube.list_pods(label_selector=f"{build.TASK_LABEL}={task_id}")
    return pods[0] if pods else None


@dataclasses.dataclass
class Trec:
    """A ``poiesis trec`` process for one task's Pod, stopped the way the kubelet stops a sidecar."""

    proc: subprocess.Popen
    pod: str
    log: Path
    ready_file: Path
    thread: threading.Thread | None = None

    def terminate(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=40)


@pytest.fixture
def start_trec(kube: Kube, kube_settings: KubeSettings, db_url: str, kubeconfig: Path, tmp_path: Path) -> Iterator[Callable[..., Trec]]:
    """Start TRec for a task once its Pod exists; SIGTERM it when the Pod's trec container stops."""
    started: list[Trec] = []

    def start(task_id: str, *, transfer_dir: Path | None = None, kubelet: bool = True) -> Trec:
        pod = wait_for(lambda: task_pod(kube, task_id), what=f"the Pod of {task_id}")
        name = pod["metadata"]["name"]
        transfer = transfer_dir or (tmp_path / f"transfer-{task_id}")
        transfer.mkdir(exist_ok=True)
        log = (tmp_path / f"trec-{task_id}.log").open("w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "poiesis.cli", "trec", "--pod", name, "--namespace", kube_settings.namespace,
             "--task-id", task_id, "--database-url", db_url, "--kubeconfig", str(kubeconfig),
             "--transfer-dir", str(transfer), "--ready-file", str(tmp_path / f"ready-{task_id}")],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "POIESIS_KUBE_LOG_TAIL_BYTES": "2000"},
        )
        trec = Trec(proc=proc, pod=name, log=tmp_path / f"trec-{task_id}.log", ready_file=tmp_path / f"ready-{task_id}")
        started.append(trec)
        _open_gate(kube, trec)
        if kubelet:
            trec.thread = threading.Thread(target=_kubelet, args=(kube, trec), daemon=True)
            trec.thread.start()
        return trec

    yield start
    for trec in started:
        trec.terminate()


def _kubelet(kube: Kube, trec: Trec) -> None:
    """SIGTERM TRec once KWOK stopped the trec container or the Pod is gone (what a kubelet does).

    Only after TRec's ready file exists, as the startupProbe gates it on a
    kubelet (the Pod's later containers start only then).
    """
    wait_for(lambda: trec.proc.poll() is not None or trec.ready_file.exists(), timeout=60, what="trec ready")
    while trec.proc.poll() is None:
        pod = kube.get_pod(trec.pod)
        statuses = (pod or {}).get("status", {}).get("initContainerStatuses") or []
        stopped = any(s["name"] == "trec" and (s.get("state") or {}).get("terminated") for s in statuses)
        if pod is None or stopped:
            trec.proc.send_signal(signal.SIGTERM)
            return
        time.sleep(0.2)


@pytest.fixture
def run_tctl(kube_settings: KubeSettings, kube_cluster: Any, db_url: str, kube_backend: KubeBackend) -> Iterator[Callable[..., Controller]]:
    """Start in-process TCtl replicas (threads); all stopped at the end of the test."""
    running: list[tuple[Controller, threading.Thread, Any]] = []

    def start(identity: str = "tctl-0", **overrides: Any) -> Controller:
        cfg = dataclasses.replace(kube_settings, **overrides)
        pool = store.open_pool(db_url, max_size=4)
        kube = Kube(kube_cluster.api, cfg.namespace)
        controller = Controller(kube=kube, store=store.Store(pool), cfg=cfg, identity=identity, submit=kube_backend.submit)
        thread = threading.Thread(target=controller.run, daemon=True)
        thread.start()
        running.append((controller, thread, pool))
        return controller

    yield start
    for controller, thread, pool in running:
        controller.stop.set()
        thread.join(timeout=10)
        pool.close()


_AUDIT = """
CREATE TABLE state_audit (seq bigserial PRIMARY KEY, task_id text, old_state text, new_state text);
CREATE FUNCTION audit_state() RETURNS trigger AS $$
BEGIN
  IF NEW.state IS DISTINCT FROM OLD.state THEN
    INSERT INTO state_audit (task_id, old_state, new_state) VALUES (NEW.id, OLD.state, NEW.state);
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER audit_state AFTER UPDATE ON tasks FOR EACH ROW EXECUTE FUNCTION audit_state();
"""


@pytest.fixture
def state_history(db_url: str) -> Callable[[str | None], list[tuple[str, str]]]:
    """Every state change in the test database (a trigger records them); call with a task id or None for all."""
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(_AUDIT)

    def history(task_id: str | None = None) -> list[tuple[str, str]]:
        with psycopg.connect(db_url) as conn:
            if task_id is None:
                rows = conn.execute("SELECT old_state, new_state FROM state_audit ORDER BY seq").fetchall()
            else:
                rows = conn.execute(
                    "SELECT old_state, new_state FROM state_audit WHERE task_id = %s ORDER BY seq", (task_id,)
                ).fetchall()
        return [(r[0], r[1]) for r in rows]

    return history


@pytest.fixture
def tes(serve_app, kube_backend: KubeBackend) -> TestClient:
    """The TES API in-process, with the Kubernetes backend on the test namespace."""
    return serve_app(backend=kube_backend)
