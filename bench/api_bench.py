"""CreateTask, GetTask and ListTasks throughput of a real ``poiesis api`` with 100,000 tasks stored.

Not a test: it prints numbers. It seeds the tasks with one SQL statement
(so the seeding is not what is measured), starts ``poiesis api`` with the
given number of workers on 127.0.0.1, and drives it from client threads over
keep-alive HTTP connections for a fixed number of requests per operation.

    python bench/api_bench.py [--tasks 100000] [--workers 2] [--threads 8] [--requests 3000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pgserver
import psycopg

from poiesis import store

TASK = {
    "name": "bench",
    "inputs": [{"path": "/data/in.txt", "url": "s3://bucket/in.txt"}],
    "outputs": [{"path": "/data/out.txt", "url": "s3://bucket/out.txt"}],
    "executors": [{"image": "alpine", "command": ["md5sum", "/data/in.txt"]}],
    "tags": {"project": "bench"},
}


def seed(url: str, count: int) -> list[str]:
    """Insert ``count`` QUEUED tasks with an executor, input and output each; returns their ids."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO tasks (id, state, name, tags) SELECT 'seed-' || g,"
            " (ARRAY['QUEUED','RUNNING','COMPLETE','EXECUTOR_ERROR'])[1 + g %% 4], 'bench-' || (g %% 100),"
            " jsonb_build_object('project', 'p' || (g %% 7)) FROM generate_series(1, %s) g",
            (count,),
        )
        conn.execute(
            "INSERT INTO task_executors (task_id, idx, image, command)"
            " SELECT 'seed-' || g, 0, 'alpine', ARRAY['echo', 'hi'] FROM generate_series(1, %s) g",
            (count,),
        )
        conn.execute(
            "INSERT INTO task_inputs (task_id, idx, url, path)"
            " SELECT 'seed-' || g, 0, 's3://b/in', '/data/in' FROM generate_series(1, %s) g",
            (count,),
        )
        conn.execute("ANALYZE")
    return [f"seed-{g}" for g in range(1, count + 1)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def drive(port: int, requests: list[tuple[str, str, bytes | None]], threads: int) -> tuple[float, list[float]]:
    """Send the requests from ``threads`` keep-alive connections; (requests/s, latencies)."""
    latencies: list[float] = []
    lock = threading.Lock()
    chunks = [requests[i::threads] for i in range(threads)]

    def work(chunk: list[tuple[str, str, bytes | None]]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        for method, path, body in chunk:
            started = time.perf_counter()
            headers = {"Content-Type": "application/json"} if body else {}
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"{method} {path}: {response.status}")
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=work, args=(c,)) for c in chunks]
    started = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return len(requests) / (time.perf_counter() - started), latencies


def report(name: str, rate: float, latencies: list[float]) -> None:
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    print(f"{name:<28} {rate:8.0f} req/s   p50 {p50:6.1f} ms   p99 {p99:6.1f} ms", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="poiesis-bench-") as tmp:
        server = pgserver.get_server(Path(tmp), cleanup_mode="stop")
        url = server.get_uri()
        store.migrate(url)
        started = time.perf_counter()
        ids = seed(url, args.tasks)
        print(f"seeded {args.tasks} tasks in {time.perf_counter() - started:.1f} s", flush=True)

        port = free_port()
        env = {**os.environ, "POIESIS_DATABASE_URL": url, "POIESIS_PORT": str(port)}
        api = subprocess.Popen(
            [sys.executable, "-m", "poiesis.cli", "api", "--workers", str(args.workers)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/")
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            base = "/ga4gh/tes/v1"
            body = json.dumps(TASK).encode()
            n = args.requests
            drive(port, [("GET", f"{base}/service-info", None)] * 200, args.threads)  # warm-up
            print(f"{args.workers} API workers, {args.threads} client threads, {n} requests each;"
                  f" {args.tasks} tasks stored", flush=True)
            report("CreateTask", *drive(port, [("POST", f"{base}/tasks", body)] * n, args.threads))
            for view in ("MINIMAL", "FULL"):
                gets = [("GET", f"{base}/tasks/{random.choice(ids)}?view={view}", None) for _ in range(n)]
                report(f"GetTask {view}", *drive(port, gets, args.threads))
            lists = [
                ("ListTasks MINIMAL p256", f"{base}/tasks"),
                ("ListTasks BASIC p256", f"{base}/tasks?view=BASIC"),
                ("ListTasks state+tag p64", f"{base}/tasks?state=COMPLETE&tag_key=project&tag_value=p3&page_size=64"),
                ("ListTasks name_prefix p64", f"{base}/tasks?name_prefix=bench-7&page_size=64"),
            ]
            for name, path in lists:
                report(name, *drive(port, [("GET", path, None)] * (n // 3), args.threads))
        finally:
            api.terminate()
            api.wait(timeout=20)
            server.cleanup()  # before the temporary directory goes, or the server outlives it


if __name__ == "__main__":
    main()
