"""Time from CreateTask to COMPLETE for a trivial task on a real ``poiesis serve`` (local backend).

Not a test: it prints numbers. It starts ``poiesis serve`` on 127.0.0.1 with
a fresh embedded PostgreSQL (or POIESIS_DATABASE_URL) and the chosen
executor mode, then, one task at a time, sends CreateTask for ``echo hi``
and polls GetTask (MINIMAL, every --poll seconds over one keep-alive
connection) until the task is COMPLETE. The latency of a task is from
just before CreateTask is sent to the first GetTask that shows COMPLETE.

    python bench/local_bench.py [--tasks 200] [--mode process|podman] [--poll 0.005]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE = "/ga4gh/tes/v1"
IMAGE = os.environ.get("POIESIS_TEST_IMAGE", "localhost/poiesis/busybox:1.35")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(port: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"poiesis serve exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", f"{BASE}/service-info")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("poiesis serve did not answer")


def call(conn: http.client.HTTPConnection, method: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    conn.request(method, BASE + path, body=data, headers={"Content-Type": "application/json"} if data else {})
    response = conn.getresponse()
    payload = json.loads(response.read())
    if response.status != 200:
        raise SystemExit(f"{method} {path}: {response.status} {payload}")
    return payload


def one_task(conn: http.client.HTTPConnection, poll: float) -> float:
    """Seconds from CreateTask to the first GetTask showing COMPLETE."""
    started = time.perf_counter()
    task_id = call(conn, "POST", "/tasks", {"executors": [{"image": IMAGE, "command": ["echo", "hi"]}]})["id"]
    while True:
        state = call(conn, "GET", f"/tasks/{task_id}")["state"]
        if state == "COMPLETE":
            return time.perf_counter() - started
        if state in ("EXECUTOR_ERROR", "SYSTEM_ERROR", "CANCELED"):
            raise SystemExit(f"task {task_id} ended {state}")
        time.sleep(poll)


def stop_embedded(data_dir: Path) -> None:
    """Stop the embedded PostgreSQL this run started (it outlives `poiesis serve` by design)."""
    pid_file = data_dir / "postmaster.pid"
    if pid_file.exists():
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, signal.SIGINT)  # fast shutdown
        for _ in range(100):
            if not pid_file.exists():
                return
            time.sleep(0.1)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--mode", default="process", help="POIESIS_LOCAL_ENGINE: process, podman, docker, auto")
    parser.add_argument("--poll", type=float, default=0.005, help="seconds between GetTask polls")
    parser.add_argument("--warmup", type=int, default=5, help="tasks run first and not counted")
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="poiesis-local-bench-") as tmp:
        env = {
            **os.environ, "POIESIS_PORT": str(port), "POIESIS_DATA_DIR": str(Path(tmp) / "pg"),
            "POIESIS_LOCAL_ENGINE": args.mode, "POIESIS_LOCAL_WORK_DIR": str(Path(tmp) / "work"),
        }
        with (Path(tmp) / "serve.log").open("w") as log:
            proc = subprocess.Popen([sys.executable, "-m", "poiesis.cli", "serve"], env=env, stdout=log, stderr=log)
        try:
            wait_ready(port, proc)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            for _ in range(args.warmup):
                one_task(conn, args.poll)
            latencies = [one_task(conn, args.poll) for _ in range(args.tasks)]
        finally:
            proc.terminate()
            proc.wait(timeout=60)
            stop_embedded(Path(tmp) / "pg")
    ms = [v * 1000 for v in latencies]
    print(f"local backend, {args.mode} mode: CreateTask -> COMPLETE for `echo hi`, {len(ms)} tasks one at a time")
    print(f"  p50 {pct(ms, 50):.1f} ms   p99 {pct(ms, 99):.1f} ms   mean {statistics.mean(ms):.1f} ms"
          f"   min {min(ms):.1f} ms   max {max(ms):.1f} ms")


if __name__ == "__main__":
    main()
