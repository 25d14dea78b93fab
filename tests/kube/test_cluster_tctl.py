"""TCtl replicas as real processes: leader handover, and TRec racing TCtl on the same Pods."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from poiesis import states
from poiesis.kube.client import Kube
from poiesis.tctl import lease
from poiesis.tctl.controller import utcnow
from tests.kube.helpers import create, executor, full, terminal
from tests.plugins.kubetasks import wait_for

LEASE_S = 3
RENEW_S = 0.5


@pytest.fixture
def tctl_processes(db_url: str, kubeconfig: Path, kube_settings, tmp_path: Path):
    """Start ``poiesis tctl`` processes; each is killed at the end of the test."""
    procs: dict[str, subprocess.Popen] = {}

    def start(identity: str) -> subprocess.Popen:
        env = {
            **os.environ,
            "POIESIS_KUBE_NAMESPACE": kube_settings.namespace,
            "POIESIS_KUBE_LEASE_DURATION": str(LEASE_S),
            "POIESIS_KUBE_LEASE_RENEW": str(RENEW_S),
            "POIESIS_KUBE_RESYNC": "1",
            "POIESIS_KUBE_QUEUED_GRACE": "2",
            "POIESIS_KUBE_PENDING_TIMEOUT": "30",
        }
        log = (tmp_path / f"{identity}.log").open("w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "poiesis.cli", "tctl", "--database-url", db_url, "--kubeconfig", str(kubeconfig),
             "--identity", identity],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        procs[identity] = proc
        return proc

    yield start
    for proc in procs.values():
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def _holder(kube: Kube, settings) -> str | None:
    obj = kube.get_lease(settings.lease_name)
    if obj is None:
        return None
    record = lease.from_lease(obj)
    return None if lease.expired(record, utcnow()) else record.holder


def test_killing_the_leader_hands_over_within_the_lease(tes, kube: Kube, kube_settings, tctl_processes) -> None:
    """Three replicas, leader SIGKILLed mid-work: another leads within the Lease duration and every task ends."""
    procs = {name: tctl_processes(name) for name in ("tctl-a", "tctl-b", "tctl-c")}
    leader = wait_for(lambda: _holder(kube, kube_settings), timeout=60, what="a leader")
    before = [create(tes, executor(run_ms=1500), executor()) for _ in range(3)]
    before.append(create(tes, executor(code=4)))
    killed_at = time.monotonic()
    procs[leader].send_signal(signal.SIGKILL)
    new = wait_for(lambda: (h := _holder(kube, kube_settings)) not in (None, leader) and h, timeout=20,
                   every=0.05, what="a new leader")
    handover = time.monotonic() - killed_at
    # The old leader renewed at most RENEW_S before it died; a follower polls every RENEW_S.
    assert handover <= LEASE_S + RENEW_S + 0.5, handover
    assert new != leader
    after = [create(tes, executor()) for _ in range(2)]
    results = {t: terminal(tes, t)["state"] for t in before + after}
    assert [results[t] for t in before] == ["COMPLETE", "COMPLETE", "COMPLETE", "EXECUTOR_ERROR"]
    assert all(results[t] == "COMPLETE" for t in after)
    print(f"handover after {handover:.2f}s to {new}")


def test_trec_and_tctl_racing_never_change_a_terminal_state(tes, kube: Kube, run_tctl, start_trec, state_history) -> None:
    """TRec and TCtl both record the same Pods; each task's terminal state is written once and never changed."""
    run_tctl()
    plan = [(executor(), "COMPLETE"), (executor(code=5), "EXECUTOR_ERROR"), (executor(), "COMPLETE"),
            (executor(code=1, ignore_error=False), "EXECUTOR_ERROR"), (executor(run_ms=300_000), "CANCELED")]
    ids = [create(tes, ex) for ex, _ in plan]
    for task_id in ids:
        start_trec(task_id)
    # five TRec processes and TCtl start at once: on a loaded 2-core machine RUNNING can take
    # longer than the default 30 s (this test is about races, not latency); the last task runs
    # long enough that it is still running when it is cancelled
    wait_for(lambda: full(tes, ids[-1])["state"] == "RUNNING", what="RUNNING", timeout=150)
    tes.post(f"/tasks/{ids[-1]}:cancel")
    for task_id, (_, state) in zip(ids, plan, strict=True):
        assert terminal(tes, task_id)["state"] == state
    time.sleep(3)  # both recorders keep seeing the final Pods for a while
    history = state_history(None)
    terminal_states = {s.value for s in states.TERMINAL}
    assert not [(old, new) for old, new in history if old in terminal_states], history
    for task_id, (_, state) in zip(ids, plan, strict=True):
        assert full(tes, task_id)["state"] == state
        assert sum(1 for old, new in state_history(task_id) if new in terminal_states) == 1


def test_a_pod_end_is_recorded_without_waiting_for_the_resync(tes, kube: Kube, run_tctl) -> None:
    """With a resync far away, TCtl records a task as soon as its Pod ends: the pass after the Pod event
    decides just that task (the full sweep is left to the resync)."""
    controller = run_tctl(resync_s=600)
    # leading, and the first full sweep done: what follows is decided by event-driven passes only
    wait_for(lambda: controller.leading and controller.synced.is_set() and not controller.dirty, timeout=30,
             every=0.05, what="TCtl leading and swept")
    started = time.monotonic()
    ids = [create(tes, executor(run_ms=1500)), create(tes, executor(code=3, run_ms=1500))]
    ended_at: dict[str, float] = {}

    def pods_ended() -> bool:
        for task_id in ids:
            if task_id in ended_at:
                continue
            items, _ = kube.list_pods(label_selector=f"poiesis.io/task={task_id}")
            if items and (items[0].get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                ended_at[task_id] = time.monotonic()
        return len(ended_at) == len(ids)

    wait_for(pods_ended, timeout=120, every=0.05, what="both Pods to end")
    lags = {}
    for task_id in ids:
        terminal(tes, task_id, timeout=10)
        lags[task_id] = time.monotonic() - ended_at[task_id]
    assert [full(tes, t)["state"] for t in ids] == ["COMPLETE", "EXECUTOR_ERROR"]
    assert max(lags.values()) < 3, lags
    assert time.monotonic() - started < 600  # so no resync ran in between: event-driven passes recorded them
    print(f"Pod end -> terminal: {', '.join(f'{v:.2f}s' for v in lags.values())}")
