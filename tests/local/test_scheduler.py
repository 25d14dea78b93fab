"""Scheduling: the concurrency limit, creation order, and what a restart does to unfinished tasks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
import requests

from poiesis import store
from poiesis.local import engine, scheduler
from tests.plugins.api import free_port, wait_http
from tests.plugins.local import BASE, executor, process_mode, processes_with, wait_for
from tests.tasks import tes_task

TERMINAL = {"COMPLETE", "EXECUTOR_ERROR", "SYSTEM_ERROR", "CANCELED", "PREEMPTED"}


def _max_overlap(intervals: list[tuple[str, str]]) -> int:
    events = sorted(
        [(datetime.fromisoformat(s), 1) for s, _ in intervals] + [(datetime.fromisoformat(e), -1) for _, e in intervals],
        key=lambda ev: (ev[0], ev[1]),
    )
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    return peak


def test_fifty_tasks_with_a_limit_of_four(task_store: store.Store, make_backend) -> None:
    """50 tasks submitted at once all complete, and never more than 4 executors run at the same time."""
    backend = make_backend(process_mode(), max_tasks=4)
    ids = []
    for n in range(50):
        task_id = task_store.create_task(tes_task({"executors": [executor("sh", "-c", f"sleep 0.2; echo {n}")]}))
        backend.submit(task_id, tes_task())
        ids.append(task_id)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(task_store.get_state(i) not in TERMINAL for i in ids):
        time.sleep(0.1)
    tasks = [task_store.get_task(i, view="FULL") for i in ids]
    assert [t["state"] for t in tasks] == ["COMPLETE"] * 50
    assert [t["logs"][0]["logs"][0]["stdout"] for t in tasks] == [f"{n}\n" for n in range(50)]
    peak = _max_overlap([(t["logs"][0]["logs"][0]["start_time"], t["logs"][0]["logs"][0]["end_time"]) for t in tasks])
    assert peak == 4, f"at most 4 at once, and the limit should be reached; peak {peak}"


def test_waiting_tasks_start_in_creation_order(task_store: store.Store, make_backend) -> None:
    """With one slot, tasks start in the order they were created."""
    backend = make_backend(process_mode(), max_tasks=1)
    ids = [task_store.create_task(tes_task({"executors": [executor("true")]})) for _ in range(5)]
    for task_id in ids:
        backend.submit(task_id, tes_task())
    tasks = [wait_for(lambda i=i: task_store.get_task(i, view="BASIC")) for i in ids]
    starts = [t["logs"][0]["start_time"] for t in tasks]
    assert starts == sorted(starts)
    assert all(t["state"] == "COMPLETE" for t in tasks)


def test_start_ends_stale_tasks_and_queues_queued_ones(task_store: store.Store, make_backend) -> None:
    """On start, tasks a previous run left active end SYSTEM_ERROR (CANCELING ones CANCELED); QUEUED ones run."""
    running = task_store.create_task(tes_task({"executors": [executor("true")]}))
    task_store.advance(running, "RUNNING")
    initializing = task_store.create_task(tes_task({"executors": [executor("true")]}))
    task_store.advance(initializing, "INITIALIZING")
    canceling = task_store.create_task(tes_task({"executors": [executor("true")]}))
    task_store.advance(canceling, "CANCELING")
    queued = task_store.create_task(tes_task({"executors": [executor("echo", "resumed")]}))
    make_backend(process_mode())
    assert task_store.get_state(running) == "SYSTEM_ERROR"
    assert task_store.get_state(initializing) == "SYSTEM_ERROR"
    assert task_store.get_state(canceling) == "CANCELED"
    assert scheduler.RESTART_LOG in task_store.get_task(running, view="FULL")["logs"][0]["system_logs"]
    done = wait_for(lambda: task_store.get_task(queued, view="FULL"))
    assert done["state"] == "COMPLETE"
    assert done["logs"][0]["logs"][0]["stdout"] == "resumed\n"


@contextmanager
def _serve(db_url: str, tmp_path: Path, *, mode: str, port: int, extra: dict[str, str] | None = None) -> Iterator[subprocess.Popen]:
    env = {
        **os.environ, "POIESIS_DATABASE_URL": db_url, "POIESIS_PORT": str(port),
        "POIESIS_LOCAL_ENGINE": mode, "POIESIS_LOCAL_MAX_TASKS": "1",
        "POIESIS_LOCAL_WORK_DIR": str(tmp_path / "work"), **(extra or {}),
    }
    with (tmp_path / "serve.log").open("a") as log:
        proc = subprocess.Popen([sys.executable, "-m", "poiesis.cli", "serve"], env=env, stdout=log, stderr=log)
    try:
        wait_http(f"http://127.0.0.1:{port}{BASE}/service-info", proc=proc)
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)


def test_killed_server_restarted_leaves_no_task_unfinished(
    db_url: str, task_store: store.Store, tmp_path: Path, local_mode: engine.Mode
) -> None:
    """SIGKILL of `poiesis serve` mid-task: its processes die; after a restart every task reaches a terminal state."""
    port = free_port()
    url = f"http://127.0.0.1:{port}{BASE}"
    token = f"{uuid.uuid4().int % 10**6 + 10**6}.{uuid.uuid4().int % 997 + 1}"
    with _serve(db_url, tmp_path, mode=local_mode.name, port=port) as proc:
        sleeper = requests.post(f"{url}/tasks", json={"executors": [executor("sleep", token)]}, timeout=10).json()["id"]
        waiting = [
            requests.post(f"{url}/tasks", json={"executors": [executor("echo", str(n))]}, timeout=10).json()["id"]
            for n in range(3)
        ]
        wait_for(lambda: {"state": task_store.get_state(sleeper)}, until=lambda t: t["state"] == "RUNNING")
        wait_for(lambda: {"n": len(processes_with(f"sleep {token}"))}, until=lambda t: t["n"] > 0, timeout=10)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert task_store.get_state(sleeper) == "RUNNING"
    assert [task_store.get_state(i) for i in waiting] == ["QUEUED"] * 3
    with _serve(db_url, tmp_path, mode=local_mode.name, port=port):
        final = [wait_for(lambda i=i: requests.get(f"{url}/tasks/{i}?view=FULL", timeout=10).json())
                 for i in [sleeper, *waiting]]
    assert [t["state"] for t in final] == ["SYSTEM_ERROR", "COMPLETE", "COMPLETE", "COMPLETE"]
    assert scheduler.RESTART_LOG in final[0]["logs"][0]["system_logs"]
    assert processes_with(token) == []
    assert task_store.ids_in_states(["QUEUED", "INITIALIZING", "RUNNING", "CANCELING"]) == []


def test_process_mode_refuses_a_non_loopback_address(db_url: str, tmp_path: Path, password_file: Path) -> None:
    """Process mode on 0.0.0.0 refuses to start, even with authentication, unless POIESIS_LOCAL_ALLOW_UNISOLATED."""
    env = {**os.environ, "POIESIS_DATABASE_URL": db_url, "POIESIS_LOCAL_ENGINE": "process",
           "POIESIS_LOCAL_WORK_DIR": str(tmp_path), "POIESIS_AUTH": "basic",
           "POIESIS_AUTH_BASIC_FILE": str(password_file)}
    done = subprocess.run(
        [sys.executable, "-m", "poiesis.cli", "serve", "--host", "0.0.0.0", "--port", str(free_port())],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode != 0
    assert "POIESIS_LOCAL_ALLOW_UNISOLATED" in done.stderr


def test_any_mode_needs_an_explicit_allowance_for_remote_callers() -> None:
    """Container mode on 0.0.0.0 needs POIESIS_LOCAL_ALLOW_REMOTE; process mode also ALLOW_UNISOLATED."""
    podman, process = engine.Mode("podman", cli="/usr/bin/podman"), engine.Mode(engine.PROCESS)
    scheduler.check_exposure(podman, host="127.0.0.1", allowed=False)
    with pytest.raises(SystemExit, match="POIESIS_LOCAL_ALLOW_REMOTE"):
        scheduler.check_exposure(podman, host="0.0.0.0", allowed=False)
    scheduler.check_exposure(podman, host="0.0.0.0", allowed=False, remote=True)
    with pytest.raises(SystemExit, match="POIESIS_LOCAL_ALLOW_UNISOLATED"):
        scheduler.check_exposure(process, host="0.0.0.0", allowed=False, remote=True)
    with pytest.raises(SystemExit, match="POIESIS_LOCAL_ALLOW_REMOTE"):
        scheduler.check_exposure(process, host="0.0.0.0", allowed=True)


def test_loopback_check() -> None:
    """Only loopback addresses and localhost count as local."""
    assert scheduler.is_loopback("127.0.0.1") and scheduler.is_loopback("::1") and scheduler.is_loopback("localhost")
    assert not scheduler.is_loopback("0.0.0.0") and not scheduler.is_loopback("192.0.2.1")


def test_clean_shutdown_ends_running_tasks_and_keeps_queued_ones(
    db_url: str, task_store: store.Store, tmp_path: Path
) -> None:
    """SIGTERM of `poiesis serve`: the running task ends SYSTEM_ERROR saying so, waiting ones stay QUEUED."""
    port = free_port()
    url = f"http://127.0.0.1:{port}{BASE}"
    token = f"{uuid.uuid4().int % 10**6 + 10**6}.{uuid.uuid4().int % 997 + 1}"
    with _serve(db_url, tmp_path, mode="process", port=port) as proc:
        sleeper = requests.post(f"{url}/tasks", json={"executors": [executor("sleep", token)]}, timeout=10).json()["id"]
        waiting = requests.post(f"{url}/tasks", json={"executors": [executor("true")]}, timeout=10).json()["id"]
        wait_for(lambda: {"state": task_store.get_state(sleeper)}, until=lambda t: t["state"] == "RUNNING")
        proc.terminate()
        assert proc.wait(timeout=20) == 0
    assert task_store.get_state(sleeper) == "SYSTEM_ERROR"
    assert scheduler.SHUTDOWN_LOG in task_store.get_task(sleeper, view="FULL")["logs"][0]["system_logs"]
    assert task_store.get_state(waiting) == "QUEUED"
    assert processes_with(token) == []
