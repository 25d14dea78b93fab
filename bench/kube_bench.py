"""1,000 tasks through the Kubernetes backend on the KWOK test cluster: submission and recording speed.

Not a test: it prints numbers. It starts a real ``poiesis api`` (backend
``kubernetes``) and one ``poiesis tctl`` on 127.0.0.1 against the running
test cluster (``scripts/cluster up``) and a fresh database, creates a fresh
namespace, and submits the tasks from client threads over HTTP. It reports:

- submission rate (CreateTask calls per second, each one creating a Job,
  its Secret and PVC and resuming the Job) and CreateTask p50/p99 latency;
- time from Pod end to terminal state in the database: the bench watches the
  Pods itself and notes when it first sees the output filer (tof) ended;
  the task's ``updated_at`` (set by the terminal write) minus that moment.

KWOK runs no containers, so TRec cannot run inside the Pods; the terminal
states here are written by TCtl (the backstop path). Usage:

    eval "$(scripts/cluster env)"   # KUBECONFIG of the running test cluster
    python bench/kube_bench.py [--tasks 1000] [--threads 4] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import requests

from poiesis import store
from poiesis.kube.client import Kube, api_client

TASK = {
    "name": "kube-bench",
    "executors": [{"image": "alpine:3", "command": ["true"], "env": {"POIESIS_KWOK_RUN_MS": "100"}}],
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class PodEnds(threading.Thread):
    """Watches the namespace's Pods and notes when each task's tof is first seen ended."""

    def __init__(self, kube: Kube) -> None:
        super().__init__(daemon=True)
        self.kube = kube
        self.ended: dict[str, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        version = None
        while not self.stop.is_set():
            try:
                if version is None:
                    items, version = self.kube.list_pods(label_selector="poiesis.io/task")
                    for pod in items:
                        self._see(pod)
                for _kind, pod in self.kube.watch_pods(resource_version=version, timeout_s=30, label_selector="poiesis.io/task"):
                    version = pod["metadata"]["resourceVersion"]
                    self._see(pod)
                    if self.stop.is_set():
                        return
            except Exception:  # noqa: BLE001 - relist on any watch trouble
                version = None

    def _see(self, pod: dict) -> None:
        task = (pod["metadata"].get("labels") or {}).get("poiesis.io/task")
        for s in (pod.get("status") or {}).get("containerStatuses") or []:
            if s["name"] == "tof" and (s.get("state") or {}).get("terminated") and task not in self.ended:
                self.ended[task] = time.time()


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(cmd, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--database-url")
    parser.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"))
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--pending-timeout", type=float, default=3600,
                        help="TCtl's pending timeout; long by default: PVC binding on the test cluster is slow")
    args = parser.parse_args()
    if not args.kubeconfig:
        raise SystemExit("set KUBECONFIG (eval \"$(scripts/cluster env)\") or pass --kubeconfig")

    tmp = Path(tempfile.mkdtemp(prefix="kube-bench-"))
    url = args.database_url
    server = None
    if not url:
        import pgserver

        server = pgserver.get_server(tmp / "pg", cleanup_mode="stop")
        url = server.get_uri()
    store.migrate(url)

    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    kube = Kube(api_client(args.kubeconfig), namespace)
    kube.core.create_namespace({"metadata": {"name": namespace}})
    while not kube.core.list_namespaced_service_account(namespace).items:
        time.sleep(0.2)

    port = free_port()
    env = {
        **os.environ,
        "POIESIS_DATABASE_URL": url,
        "POIESIS_PORT": str(port),
        "POIESIS_BACKEND": "kubernetes",
        "POIESIS_KUBE_NAMESPACE": namespace,
        "POIESIS_KUBE_KUBECONFIG": args.kubeconfig,
        "POIESIS_KUBE_TTL_SECONDS": "none",
        "POIESIS_KUBE_RESYNC": "5",
        "POIESIS_KUBE_LOG_TAIL_BYTES": "0",
        "POIESIS_KUBE_PENDING_TIMEOUT": str(args.pending_timeout),
    }
    api = start([sys.executable, "-m", "poiesis.cli", "api"], env, tmp / "api.log")
    tctl = start([sys.executable, "-m", "poiesis.cli", "tctl", "--identity", "bench"], env, tmp / "tctl.log")
    ends = PodEnds(kube)
    ends.start()
    base = f"http://127.0.0.1:{port}/ga4gh/tes/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{base}/service-info", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or api.poll() is not None:
                    raise SystemExit(f"api did not start; see {tmp / 'api.log'}") from None
                time.sleep(0.2)

        local = threading.local()

        def create(_: int) -> tuple[float, str]:
            session = getattr(local, "session", None) or requests.Session()
            local.session = session
            t = time.perf_counter()
            resp = session.post(f"{base}/tasks", json=TASK, timeout=60)
            resp.raise_for_status()
            return time.perf_counter() - t, resp.json()["id"]

        started = time.perf_counter()
        with ThreadPoolExecutor(args.threads) as pool:
            results = list(pool.map(create, range(args.tasks)))
        submit_s = time.perf_counter() - started
        latencies = [r[0] * 1000 for r in results]
        ids = [r[1] for r in results]

        pool_ = store.open_pool(url, max_size=2)
        st = store.Store(pool_)
        deadline = time.monotonic() + args.timeout
        while (left := len(st.active_tasks())) and time.monotonic() < deadline:
            time.sleep(1)
        all_done_s = time.perf_counter() - started
        pool_.close()

        with psycopg.connect(url) as conn:
            rows = conn.execute("SELECT id, state, extract(epoch from updated_at) FROM tasks").fetchall()
            reasons = conn.execute(
                "SELECT l.system_logs[1], count(*) FROM tasks t JOIN task_logs l ON l.task_id = t.id"
                " WHERE t.state <> 'COMPLETE' GROUP BY 1 ORDER BY 2 DESC LIMIT 5"
            ).fetchall()
        states: dict[str, int] = {}
        for _id, state, _ in rows:
            states[state] = states.get(state, 0) + 1
        lag = [float(u) - ends.ended[i] for i, _s, u in rows if i in ends.ended]
        report = {
            "tasks": args.tasks,
            "client_threads": args.threads,
            "submission_rate_per_s": round(args.tasks / submit_s, 1),
            "create_task_ms": {"p50": round(pct(latencies, 50), 1), "p99": round(pct(latencies, 99), 1),
                               "mean": round(statistics.mean(latencies), 1)},
            "all_terminal_after_s": round(all_done_s, 1),
            "still_active": left,
            "final_states": states,
            "not_complete_reasons": [[r[0][:120] if r[0] else None, r[1]] for r in reasons],
            "pod_end_to_terminal_ms": {
                "n": len(lag),
                "p50": round(pct(lag, 50) * 1000, 1) if lag else None,
                "p99": round(pct(lag, 99) * 1000, 1) if lag else None,
                "max": round(max(lag) * 1000, 1) if lag else None,
            },
            "logs": str(tmp),
        }
        print(json.dumps(report, indent=2))
        assert len(ids) == args.tasks
        return 0
    finally:
        ends.stop.set()
        for proc in (api, tctl):
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        kube.core.delete_namespace(namespace, propagation_policy="Background")
        if server is not None:
            server.cleanup()


if __name__ == "__main__":
    sys.exit(main())
