"""TCtl's health and metrics server, real HTTP on 127.0.0.1, on a replica that has not started its loops."""

from __future__ import annotations

import time

import requests

from poiesis import metrics
from poiesis.config.kube import KubeSettings
from poiesis.tctl import probes
from poiesis.tctl.controller import Controller
from tests.api.test_ops import sample
from tests.tasks import tes_task


def test_ready_once_synced_alive_while_the_lease_loop_turns(task_store) -> None:
    """/readyz waits for the informer; /healthz fails once the lease loop is silent; /metrics has the TCtl series."""
    cfg = KubeSettings(lease_renew_s=1.0)
    controller = Controller(kube=None, store=task_store, cfg=cfg, identity="probe-test", submit=lambda *_: None)
    server = probes.serve(controller, host="127.0.0.1", port=0)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert requests.get(url + "/readyz", timeout=5).status_code == 503
        assert requests.get(url + "/healthz", timeout=5).status_code == 200  # loop not started yet
        controller.synced.set()
        assert requests.get(url + "/readyz", timeout=5).json() == {"status": "ready", "leading": False}
        controller.lease_checked = time.monotonic()
        assert requests.get(url + "/healthz", timeout=5).status_code == 200
        controller.lease_checked = time.monotonic() - 60  # 3 renewals + 5 s ago is stalled
        stalled = requests.get(url + "/healthz", timeout=5)
        assert stalled.status_code == 503 and "lease loop silent" in stalled.json()["detail"]
        metrics.TCTL_LEADER.set(1)
        metrics.PODS_PENDING.set(3)
        text = requests.get(url + "/metrics", timeout=5).text
        assert sample(text, "poiesis_tctl_leader") == 1
        assert sample(text, "poiesis_pods_pending") == 3
        assert "poiesis_tctl_reconcile_lag_seconds" in text
        assert requests.get(url + "/other", timeout=5).status_code == 404
    finally:
        server.shutdown()
        controller.release()
        metrics.TCTL_LEADER.set(0)


def test_the_leader_publishes_tasks_per_state_from_the_database(task_store) -> None:
    """poiesis_tasks counts every state in the database, whoever wrote it; states with no task say 0."""
    controller = Controller(kube=None, store=task_store, cfg=KubeSettings(), identity="count-test", submit=lambda *_: None)
    ids = [task_store.create_task(tes_task({"executors": [{"image": "busybox", "command": ["true"]}]})) for _ in range(3)]
    assert task_store.write_terminal_state(ids[0], "COMPLETE", ended_by="trec") == "COMPLETE"
    controller.count_states()
    server = probes.serve(controller, host="127.0.0.1", port=0)
    try:
        text = requests.get(f"http://127.0.0.1:{server.server_address[1]}/metrics", timeout=5).text
    finally:
        server.shutdown()
    assert sample(text, "poiesis_tasks", state="QUEUED") == 2
    assert sample(text, "poiesis_tasks", state="COMPLETE") == 1
    assert sample(text, "poiesis_tasks", state="RUNNING") == 0
