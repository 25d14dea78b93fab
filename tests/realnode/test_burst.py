"""A burst of 100 trivial tasks on the real node: all COMPLETE, and TRec (not TCtl) records their ends.

This module's deployment waits up to 600 s for a Pod to start (POIESIS_ENV): a burst on a
two-core node queues Pods far longer than the 20 s the other real-node tests allow.
"""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.plugins.realnode import TesOnNode
from tests.realnode.test_e2e import executor

pytestmark = pytest.mark.realnode
POIESIS_ENV = {"POIESIS_KUBE_PENDING_TIMEOUT": "600"}


def _vm_rss_kib(status: str) -> list[int]:
    """The VmRSS line of a /proc/PID/status text, in KiB (none for a zombie)."""
    return [int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")]


def _trec_rss_kib() -> list[int]:
    """RSS of every running `poiesis trec` process on this host (they run in the node's containers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            if b"trec" not in argv or not any(a.endswith(b"poiesis") for a in argv[:2]):
                continue
            status = (entry / "status").read_text()
        except OSError:
            continue
        found += _vm_rss_kib(status)
    return found


def _tree_rss_kib(pid: int) -> int:
    """RSS of a process and its descendants (the API's uvicorn workers), 0 once it is gone."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
        total += sum(_vm_rss_kib(status))
    return total


def test_a_hundred_trivial_tasks_trec_writes_the_ends(tes_real: TesOnNode, capsys: pytest.CaptureFixture[str]) -> None:
    """100 echo tasks all COMPLETE; TRec (not TCtl) wrote at least 99 of the terminal states."""
    count, rss, stop = 100, [], threading.Event()
    at_rest = {name: _tree_rss_kib(pid) for name, pid in tes_real.pids.items()}
    peak = dict.fromkeys(tes_real.pids, 0)
    running = [0]

    def sample() -> None:
        while not stop.wait(0.5):
            now = _trec_rss_kib()
            rss.extend(now)
            running[0] = max(running[0], len(now))
            for name, pid in tes_real.pids.items():
                peak[name] = max(peak[name], _tree_rss_kib(pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    created: dict[str, float] = {}
    for i in range(count):
        created[tes_real.create({"name": f"trivial-{i}", "executors": [executor(["echo", str(i)])]})] = time.monotonic()
    done: dict[str, float] = {}
    deadline = time.monotonic() + 900
    while len(done) < count and time.monotonic() < deadline:
        page = requests.get(f"{tes_real.base}/tasks", params={"view": "MINIMAL", "page_size": 256}, timeout=30).json()
        now = time.monotonic()
        for task in page["tasks"]:
            if task["id"] in created and task["id"] not in done and task["state"] not in ("QUEUED", "INITIALIZING",
                                                                                          "RUNNING", "CANCELING"):
                done[task["id"]] = now
        time.sleep(0.25)
    stop.set()
    sampler.join()
    states = {task_id: tes_real.get(task_id, "MINIMAL")["state"] for task_id in created}
    latencies = sorted(done[t] - created[t] for t in done)
    if latencies:
        with capsys.disabled():  # the numbers belong in the run's log, passed or not
            print(f"\n{len(latencies)} tasks on the real node: CreateTask->terminal p50 {statistics.median(latencies):.2f}s "
                  f"p99 {latencies[int(0.99 * (len(latencies) - 1))]:.2f}s max {latencies[-1]:.2f}s; "
                  f"TRec RSS max {max(rss, default=0) // 1024} MiB, median {statistics.median(rss) // 1024 if rss else 0} MiB; "
                  f"at most {running[0]} Pods' TRec running at once; "
                  + ", ".join(f"{name} RSS {at_rest[name] // 1024} MiB at rest, {peak[name] // 1024} MiB peak"
                              for name in tes_real.pids))
    writers = [tes_real.ended_by(task_id) for task_id in created]
    assert set(states.values()) == {"COMPLETE"}, {s: list(states.values()).count(s) for s in set(states.values())}
    assert writers.count("trec") >= 99, {w: writers.count(w) for w in set(writers)}
