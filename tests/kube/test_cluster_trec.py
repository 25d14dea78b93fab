"""TRec on the real control plane: watch expiry (410) and a PostgreSQL outage lose no row; its stop after SIGTERM."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from pathlib import Path

import pgserver
from pgserver.postgres_server import PostgresServer

from poiesis import store
from poiesis.api.tes.context import Context
from poiesis.kube import build
from poiesis.kube.client import Kube
from poiesis.record import Recorder
from poiesis.retry import Backoff
from poiesis.store import WriteRetry
from poiesis.trec.run import PodRecorder
from tests.kube.helpers import create, ended_by, executor, exit_codes, full, terminal
from tests.plugins.api import api_store, serving
from tests.plugins.kube import Cluster, compact_etcd
from tests.plugins.kubetasks import task_pod, wait_for
from tests.tasks import tes_task


def test_trec_relists_after_410_and_records_everything(tes, task_store, kube: Kube, kube_cluster: Cluster) -> None:
    """Watching from an expired resourceVersion gets a real 410; TRec lists again and records the whole task."""
    task_id = create(tes, executor(run_ms=1500), executor())
    pod = wait_for(lambda: task_pod(kube, task_id), what="pod")
    assert compact_etcd(kube_cluster) > 2  # so resourceVersion "1" is expired even on a fresh cluster
    rec = PodRecorder(kube=kube, recorder=Recorder(store=task_store, kube=kube), pod_name=pod["metadata"]["name"],
                      task_id=task_id, start_version="1", watch_timeout_s=5)
    watcher = threading.Thread(target=rec.watch, daemon=True)
    watcher.start()
    task = terminal(tes, task_id)
    rec.stop.set()
    watcher.join(timeout=15)
    assert rec.relists >= 1
    assert task["state"] == "COMPLETE" and exit_codes(task) == [0, 0]


def _stop(data_dir: Path) -> None:
    pid = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
    os.kill(pid, signal.SIGINT)  # the server this test started
    deadline = time.monotonic() + 30
    while (data_dir / "postmaster.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.1)


def test_trec_survives_a_database_outage(kube: Kube, kube_backend, tmp_path: Path) -> None:
    """PostgreSQL goes down while an executor ends; TRec retries and, once it is back, no row is missing."""
    data_dir = tmp_path / "pg"
    url = pgserver.get_server(data_dir, cleanup_mode=None).get_uri()
    store.migrate(url)
    pool = store.open_pool(url, timeout=2.0)
    stack = contextlib.ExitStack()
    try:
        task_store = store.Store(pool)
        client = stack.enter_context(serving(Context(store=api_store(url, timeout=2.0), backend=kube_backend)))
        task_id = create(client, executor(run_ms=4000), executor(run_ms=3000))
        pod = wait_for(lambda: task_pod(kube, task_id), what="pod")
        retry = WriteRetry(Backoff(attempts=30, base_delay=0.2, max_delay=1.0))
        recorder = Recorder(store=task_store, kube=kube, retry=retry)
        rec = PodRecorder(kube=kube, recorder=recorder, pod_name=pod["metadata"]["name"], task_id=task_id)
        watcher = threading.Thread(target=rec.watch, daemon=True)
        watcher.start()
        wait_for(lambda: full(client, task_id)["state"] == "RUNNING", what="RUNNING")
        _stop(data_dir)
        time.sleep(8)  # executor-0 ends and executor-1 runs while the database is away
        PostgresServer(data_dir.resolve(), cleanup_mode=None)
        task = terminal(client, task_id, timeout=60)
        rec.stop.set()
        watcher.join(timeout=15)
        assert task["state"] == "COMPLETE"
        assert exit_codes(task) == [0, 0]
    finally:
        stack.close()
        pool.close()
        if (data_dir / "postmaster.pid").exists():
            _stop(data_dir)


def test_trec_keeps_reading_after_an_early_sigterm(tes, kube: Kube, submit_gated, start_trec, db_url) -> None:
    """SIGTERM while the Pod still runs (the kubelet's status write lagging): TRec reads on and records the end.

    On a kubelet the lag is short; here SIGTERM comes seconds early, which
    TRec must survive the same way, within the Pod's 30 s grace.
    """
    task_id = submit_gated({"executors": [executor(run_ms=3000), executor()]})
    trec = start_trec(task_id, kubelet=False)
    wait_for(lambda: full(tes, task_id)["state"] == "RUNNING", what="RUNNING")
    trec.proc.send_signal(signal.SIGTERM)
    assert trec.proc.wait(timeout=40) == 0
    task = full(tes, task_id)
    assert task["state"] == "COMPLETE" and exit_codes(task) == [0, 0]
    assert ended_by(db_url, task_id) == "trec"
    assert "ended COMPLETE" in trec.log.read_text()


def test_trec_gives_up_before_the_grace_period_ends(tes, task_store, kube_backend, kube_settings, start_trec) -> None:
    """A task that does not end within the Pod's grace: TRec exits before the kubelet's SIGKILL would come, the task left to TCtl."""
    task = {"executors": [executor(run_ms=60000)]}
    task_id = task_store.create_task(tes_task(task))
    manifest = build.build_job(task_id, tes_task(task), kube_settings)
    manifest["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 5
    kube_backend.create(task_id, tes_task(task), manifest)
    trec = start_trec(task_id, kubelet=False)
    wait_for(lambda: trec.ready_file.exists(), timeout=60, what="trec ready")
    wait_for(lambda: task_store.get_state(task_id) == "RUNNING", what="RUNNING")
    sent = time.monotonic()
    trec.proc.send_signal(signal.SIGTERM)
    assert trec.proc.wait(timeout=20) == 0
    took = time.monotonic() - sent
    assert 2.5 <= took < 5, took  # the 5 s grace less its 2 s margin
    assert task_store.get_state(task_id) == "RUNNING"
    assert "not terminal at exit" in trec.log.read_text()
