"""The change feed's costs: latency from a state write to a subscriber, subscribers per worker, extra writes.

Not a test: it prints numbers and writes them as JSON (bench/results/feed_bench-<UTC>.json).
One fresh embedded PostgreSQL (pgserver) and one ``poiesis api`` worker (no backend, no auth)
on 127.0.0.1; what it measures:

- latency: one SSE subscriber; the writer (psycopg, the store's plans through ``Store``)
  creates tasks and moves each INITIALIZING -> RUNNING -> COMPLETE, ``--rate`` writes a second;
  for each of ``--events`` events the time from the write's commit returning to the frame
  arriving at the subscriber; p50, p90, p99, max;
- subscribers: ``--subscribers`` streams held open at once on raw sockets; the worker's
  VmRSS before and after, per subscriber; then one event and the time until every one of
  them has it; one stream past POIESIS_FEED_SUBSCRIBERS is refused (503);
- writes: WAL bytes, and how long on one connection, for ``--tasks`` tasks through their
  whole life (create, INITIALIZING, RUNNING, COMPLETE), with the event triggers on and off.

    python bench/feed_bench.py                      # about a minute on 2 cores
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import free_port, machine
from poiesis import store
from poiesis.client.http import sse_frames
from tests.tasks import tes_task

BASE = "/ga4gh/tes/v1"
RESULTS = Path(__file__).parent / "results"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def life(task_store: store.Store, on_commit=None) -> str:
    """One task through create, INITIALIZING, RUNNING, COMPLETE; ``on_commit(task_id, state)`` after each write."""
    task_id = task_store.create_task(tes_task(name="bench"))
    if on_commit:
        on_commit(task_id, "QUEUED")
    for state in ("INITIALIZING", "RUNNING"):
        task_store.advance(task_id, state)
        if on_commit:
            on_commit(task_id, state)
    task_store.write_terminal_state(task_id, "COMPLETE", ended_by="tctl")
    if on_commit:
        on_commit(task_id, "COMPLETE")
    return task_id


def latency(url: str, task_store: store.Store, *, events: int, rate: float) -> dict[str, float]:
    written: dict[tuple[str, str], float] = {}
    received: dict[tuple[str, str], float] = {}
    response = requests.get(url + BASE + "/events", stream=True, timeout=(5, 60))
    done = threading.Event()

    def read() -> None:
        for frame in sse_frames(response.iter_lines(chunk_size=1)):
            received[(frame.data["id"], frame.data["state"])] = time.perf_counter()
            if len(received) >= events:
                done.set()
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(0.5)
    gap = 1.0 / rate

    def stamp(task_id: str, state: str) -> None:
        written[(task_id, state)] = time.perf_counter()
        time.sleep(gap)

    for _ in range(events // 4):
        life(task_store, stamp)
    done.wait(30)
    response.close()
    lags = sorted((received[k] - written[k]) * 1000 for k in written if k in received)
    assert len(lags) == len(written), f"{len(written) - len(lags)} events never arrived"

    def pct(p: float) -> float:
        return round(lags[min(len(lags) - 1, int(p * len(lags)))], 2)

    return {"events": len(lags), "rate_per_s": rate, "p50_ms": pct(0.5), "p90_ms": pct(0.9), "p99_ms": pct(0.99),
            "max_ms": round(lags[-1], 2)}


def subscribers(url: str, pid: int, task_store: store.Store, *, count: int) -> dict[str, float]:
    host, port = "127.0.0.1", int(url.rsplit(":", 1)[1])
    before = rss_kib(pid)
    opened = []
    for _ in range(count):
        s = socket.create_connection((host, port))
        s.sendall(f"GET {BASE}/events HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        opened.append(s)
    for s in opened:
        s.settimeout(10)
        assert b"200" in s.recv(4096)
    time.sleep(1)
    after = rss_kib(pid)
    refused = requests.get(url + BASE + "/events", timeout=5, stream=True)
    started = time.perf_counter()
    task_id = task_store.create_task(tes_task(name="fan-out"))
    for s in opened:
        got = b""
        while task_id.encode() not in got:
            got += s.recv(65536)
    fan_out = time.perf_counter() - started
    for s in opened:
        s.close()
    return {"subscribers": count, "rss_before_kib": before, "rss_after_kib": after,
            "kib_per_subscriber": round((after - before) / count, 1), "fan_out_one_event_ms": round(fan_out * 1000, 1),
            "one_more_status": refused.status_code}


def writes(db_url: str, task_store: store.Store, *, tasks: int) -> dict[str, float]:
    results = {}
    with psycopg.connect(db_url, autocommit=True) as conn:
        for label, action in (("events_on", "ENABLE"), ("events_off", "DISABLE")):
            for trigger in ("tasks_created_event", "tasks_state_event"):
                conn.execute(f"ALTER TABLE tasks {action} TRIGGER {trigger}")
            events0 = conn.execute("SELECT count(*) FROM task_events").fetchone()[0]
            lsn0 = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
            started = time.perf_counter()
            for _ in range(tasks):
                life(task_store)
            seconds = time.perf_counter() - started
            wal = conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", (lsn0,)).fetchone()[0]
            events = conn.execute("SELECT count(*) FROM task_events").fetchone()[0] - events0
            results[label] = {"tasks": tasks, "seconds": round(seconds, 2), "wal_bytes_per_task": round(float(wal) / tasks),
                              "event_rows_per_task": events / tasks, "ms_per_task_life": round(seconds / tasks * 1000, 3)}
        conn.execute("ALTER TABLE tasks ENABLE TRIGGER tasks_created_event")
        conn.execute("ALTER TABLE tasks ENABLE TRIGGER tasks_state_event")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=200.0, help="state writes a second while measuring latency")
    parser.add_argument("--subscribers", type=int, default=500)
    parser.add_argument("--tasks", type=int, default=1000)
    args = parser.parse_args()
    import pgserver

    with tempfile.TemporaryDirectory(prefix="poiesis-feed-bench-") as tmp:
        server = pgserver.get_server(Path(tmp) / "pg", cleanup_mode="stop")
        db_url = server.get_uri()
        store.migrate(db_url)
        port = free_port()
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("POIESIS_")}, "POIESIS_DATABASE_URL": db_url,
               "POIESIS_PORT": str(port), "POIESIS_ACCESS_LOG": "false",
               "POIESIS_FEED_SUBSCRIBERS": str(args.subscribers), "POIESIS_LIMIT_CONCURRENCY": str(args.subscribers + 100)}
        api = subprocess.Popen([sys.executable, "-m", "poiesis.cli", "api"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    requests.get(url + BASE + "/service-info", timeout=1)
                    break
                except requests.ConnectionError:
                    time.sleep(0.1)
            pool = store.open_pool(db_url, max_size=2)
            task_store = store.Store(pool)
            result = {
                "machine": machine(),
                "latency": latency(url, task_store, events=args.events, rate=args.rate),
                "subscribers": subscribers(url, api.pid, task_store, count=args.subscribers),
                "writes": writes(db_url, task_store, tasks=args.tasks),
            }
            pool.close()
        finally:
            api.terminate()
            api.wait(timeout=20)
            server.cleanup()
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"feed_bench-{stamp}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
