"""How fast CreateTask answers on the Kubernetes backend, and how fast its Jobs reach the API server.

Not a test: it prints numbers. One command:

    eval "$(scripts/cluster env)"          # KUBECONFIG of the running KWOK test cluster
    python bench/kube_submit_bench.py [--tasks 1000] [-c 8] [--workers 1] [--source DIR]
        [--transfer-volume pvc|emptyDir] [--submit-workers N] [--json FILE]

It starts a fresh embedded PostgreSQL, a fresh namespace and ``poiesis api``
(backend ``kubernetes``; ``--source`` runs the API from another checkout,
e.g. the main branch for a before/after), then sends ``--tasks`` CreateTask
requests from the compiled load generator (``tesload``, built from
bench/tesload into ~/.cache/poiesis/bench/tesload by ``common.build_tesload``)
at concurrency ``-c``. No TCtl runs: what is measured is the API's own
submission. Meanwhile it watches the namespace's Jobs and notes when each is
first seen. It reports:

- CreateTask p50/p99 and req/s (tesload's figures);
- Jobs/s reaching the API server: Jobs seen / (last Job seen - first request sent),
  and the peak over any 1 s window;
- create -> Job: the Job first seen minus the task's ``creation_time`` (the insert,
  database clock, same host), p50/p99/max;
- CPU seconds per task, from the first request until the last Job was seen, of each
  party: the API (its workers, the submission threads included), PostgreSQL, each
  component of the test cluster, the load generator and this bench's Job watcher. On a
  machine with C cores no arrangement gets more than C / (their sum) tasks per second,
  and the cluster's share alone bounds what any client gets (bench/apiserver_ceiling.py);
- the machine (CPUs, model, load average before and after), Python, Kubernetes,
  PostgreSQL and Poiesis versions.

The table goes to stdout; the same figures as JSON to ``--json`` (default:
``kube_submit_bench-<UTC time>.json`` in the current directory).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg
from common import build_tesload, cluster_pids, cpu_seconds, free_port, machine, tree_cpu_seconds
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from poiesis import store

REPO = Path(__file__).resolve().parents[1]


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class JobWatch(threading.Thread):
    """Notes the wall-clock time each task's Job is first seen in the namespace."""

    def __init__(self, api: k8s.ApiClient, namespace: str) -> None:
        super().__init__(daemon=True)
        self.batch = k8s.BatchV1Api(api)
        self.namespace = namespace
        self.seen: dict[str, float] = {}
        #: the API server's creationTimestamp of each Job (whole seconds): independent of this watcher's lag
        self.created: dict[str, float] = {}
        self.stop = threading.Event()
        self.ready = threading.Event()

    def run(self) -> None:
        version = self.batch.list_namespaced_job(self.namespace).metadata.resource_version
        self.ready.set()
        while not self.stop.is_set():
            # raw watch lines, not the client's models: building a V1Job per event cost this
            # bench 1.5 ms of CPU per task, taken from the machine the measured parties share
            resp = self.batch.list_namespaced_job(self.namespace, watch=True, resource_version=version,
                                                  timeout_seconds=5, allow_watch_bookmarks=True,
                                                  _preload_content=False)
            for line in resp:
                if not line.strip():
                    continue
                event = json.loads(line)
                meta = event["object"]["metadata"]
                version = meta["resourceVersion"]
                if event["type"] == "BOOKMARK":
                    continue
                task = (meta.get("labels") or {}).get("poiesis.io/task")
                if task and task not in self.seen:
                    self.seen[task] = time.time()
                    self.created[task] = dt.datetime.fromisoformat(meta["creationTimestamp"]).timestamp()


def versions(api: k8s.ApiClient, url: str, source: Path) -> dict[str, str]:
    rev = subprocess.run(["git", "-C", str(source), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    branch = subprocess.run(["git", "-C", str(source), "rev-parse", "--abbrev-ref", "HEAD"], capture_output=True,
                            text=True)
    with psycopg.connect(url) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
    return {
        "python": platform.python_version(),
        "kubernetes": k8s.VersionApi(api).get_code().git_version,
        "postgresql": pg,
        "poiesis": f"{branch.stdout.strip()}@{rev.stdout.strip()}",
    }


def start_api(args: argparse.Namespace, url: str, namespace: str, kubeconfig: str, port: int, log: Path):
    env = {
        **os.environ,
        "PYTHONPATH": str(args.source),
        "POIESIS_DATABASE_URL": url,
        "POIESIS_PORT": str(port),
        "POIESIS_BACKEND": "kubernetes",
        "POIESIS_KUBE_NAMESPACE": namespace,
        "POIESIS_KUBE_KUBECONFIG": kubeconfig,
        "POIESIS_KUBE_TRANSFER_VOLUME": args.transfer_volume,
        "POIESIS_KUBE_TTL_SECONDS": "none",
    }
    if args.submit_workers is not None:
        env["POIESIS_KUBE_SUBMIT_WORKERS"] = str(args.submit_workers)
    cmd = [sys.executable, "-m", "poiesis.cli", "api", "--workers", str(args.workers)]
    return subprocess.Popen(cmd, env=env, cwd=args.source, stdout=log.open("w"), stderr=subprocess.STDOUT)


def wait_ready(base: str, proc: subprocess.Popen, log: Path) -> None:
    import urllib.request

    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"{base}/service-info", timeout=1).read()
            return
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit(f"the API did not start; see {log}") from None
            time.sleep(0.3)


def load(base: str, args: argparse.Namespace, ids_file: Path) -> tuple[dict, float]:
    started = time.time()
    out = subprocess.run([str(build_tesload()), "-base", base, "-op", "create", "-c", str(args.c), "-n", str(args.tasks),
                          "-ids-out", str(ids_file)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1]), started


def creation_times(url: str, ids: list[str]) -> dict[str, float]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT id, extract(epoch FROM creation_time)::float8 FROM tasks WHERE id = ANY(%s)",
                            (ids,)).fetchall()
    return dict(rows)


def cpu_snapshot(api: int, postgres: int) -> dict[str, float]:
    """CPU seconds so far of every party in the run (see the module docstring)."""
    import resource

    parties = {"poiesis api": tree_cpu_seconds(api), "postgresql": tree_cpu_seconds(postgres)}
    parties.update({name: cpu_seconds(pid) for name, pid in cluster_pids().items()})
    usage = resource.getrusage(resource.RUSAGE_SELF)
    parties["bench job watcher"] = usage.ru_utime + usage.ru_stime
    return parties


def cpu_per_task(before: dict[str, float], after: dict[str, float], tasks: int, client_s: float | None) -> dict:
    """Milliseconds of CPU per task of each party, and their sum."""
    per = {name: round(1000 * (after[name] - before.get(name, 0.0)) / tasks, 2) for name in after}
    if client_s is not None:
        per["load generator"] = round(1000 * client_s / tasks, 2)
    per["total"] = round(sum(per.values()), 2)
    return per


def peak_rate(times: list[float]) -> float:
    """The most Jobs first seen within any 1 s window."""
    times, best, lo = sorted(times), 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] > 1.0:
            lo += 1
        best = max(best, hi - lo + 1)
    return float(best)


def report(args, load_out, started, watch: JobWatch, created: dict[str, float], info: dict,
           cpu: dict[str, float]) -> dict:
    seen = {t: watch.seen[t] for t in created if t in watch.seen}
    lags = [(seen[t] - created[t]) * 1000 for t in seen]
    last = max(seen.values()) if seen else started
    return {
        "tasks": args.tasks, "concurrency": args.c, "api_workers": args.workers,
        "transfer_volume": args.transfer_volume, "source": str(args.source),
        "submit_workers": args.submit_workers or os.environ.get("POIESIS_KUBE_SUBMIT_WORKERS") or "default",
        "create_task": {"req_per_s": load_out.get("rps"), "p50_ms": load_out.get("p50_ms"),
                        "p99_ms": load_out.get("p99_ms"), "max_ms": load_out.get("max_ms"),
                        "errors": load_out.get("errors")},
        "jobs_seen": len(seen),
        "jobs_per_s": round(len(seen) / (last - started), 1) if seen else 0.0,
        "jobs_per_s_peak_1s": peak_rate(list(seen.values())),
        "jobs_per_s_by_creation_timestamp": _by_creation(watch, created, started),
        "create_to_job_ms": {"p50": _r(pct(lags, 50)), "p99": _r(pct(lags, 99)), "max": _r(max(lags, default=None))},
        "cpu_ms_per_task": cpu,
        "loadavg_before": info["machine"]["load_avg"],
        "loadavg_after": os.getloadavg(),
        **info,
    }


def _by_creation(watch: JobWatch, created: dict[str, float], started: float) -> float | None:
    """Jobs / (last Job's creationTimestamp + 1 s - first request): the API server's pace, not the watcher's."""
    stamps = [watch.created[t] for t in created if t in watch.created]
    return round(len(stamps) / (max(stamps) + 1 - started), 1) if stamps else None


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def table(r: dict) -> str:
    ct, lag = r["create_task"], r["create_to_job_ms"]
    ct = {k: round(v, 1) if isinstance(v, float) else v for k, v in ct.items()}
    load = " / ".join(" ".join(f"{x:.2f}" for x in r[k]) for k in ("loadavg_before", "loadavg_after"))
    rows = [
        ("source", r["source"] + f" ({r['versions']['poiesis']})"),
        ("tasks / concurrency / API workers", f"{r['tasks']} / {r['concurrency']} / {r['api_workers']}"),
        ("transfer volume / submit workers", f"{r['transfer_volume']} / {r['submit_workers']}"),
        ("CreateTask req/s", ct["req_per_s"]),
        ("CreateTask p50 / p99 / max ms", f"{ct['p50_ms']} / {ct['p99_ms']} / {ct['max_ms']}"),
        ("CreateTask errors", ct["errors"]),
        ("Jobs seen", r["jobs_seen"]),
        ("Jobs/s (first request -> last Job)", r["jobs_per_s"]),
        ("Jobs/s peak over 1 s", r["jobs_per_s_peak_1s"]),
        ("Jobs/s by creationTimestamp (+1 s)", r["jobs_per_s_by_creation_timestamp"]),
        ("create -> Job p50 / p99 / max ms", f"{lag['p50']} / {lag['p99']} / {lag['max']}"),
        ("CPU ms per task", ", ".join(f"{k} {v}" for k, v in r["cpu_ms_per_task"].items())),
        ("load average before / after", load),
        ("machine", f"{r['machine']['cores']} CPUs, {r['machine']['cpu']}, {r['machine']['memory_gib']} GiB"),
        ("versions", ", ".join(f"{k} {v}" for k, v in r["versions"].items())),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"| {k.ljust(width)} | {v} |" for k, v in rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("-c", type=int, default=8, help="client concurrency (connections)")
    parser.add_argument("--workers", type=int, default=1, help="poiesis api --workers")
    parser.add_argument("--source", type=Path, default=REPO, help="checkout to run the API from")
    parser.add_argument("--transfer-volume", choices=("pvc", "emptyDir"), default="pvc")
    parser.add_argument("--submit-workers", type=int, help="POIESIS_KUBE_SUBMIT_WORKERS of the API (default: its own)")
    parser.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"))
    parser.add_argument("--settle", type=float, default=60, help="seconds to wait for Jobs after the last request")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not args.kubeconfig:
        raise SystemExit("set KUBECONFIG (eval \"$(scripts/cluster env)\") or pass --kubeconfig")
    args.source = args.source.resolve()
    info = {"machine": machine()}
    tmp = Path(tempfile.mkdtemp(prefix="kube-submit-bench-"))
    import pgserver

    server = pgserver.get_server(tmp / "pg", cleanup_mode="stop")
    url = server.get_uri()
    store.migrate(url)
    api = k8s_config.new_client_from_config(config_file=args.kubeconfig)
    core = k8s.CoreV1Api(api)
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": namespace}})
    info["versions"] = versions(api, url, args.source)
    port = free_port()
    base = f"http://127.0.0.1:{port}/ga4gh/tes/v1"
    proc = start_api(args, url, namespace, args.kubeconfig, port, tmp / "api.log")
    watch = JobWatch(api, namespace)
    try:
        wait_ready(base, proc, tmp / "api.log")
        watch.start()
        watch.ready.wait(30)
        postmaster = int((tmp / "pg" / "postmaster.pid").read_text().split()[0])
        cpu_before = cpu_snapshot(proc.pid, postmaster)
        load_out, started = load(base, args, tmp / "ids.txt")
        ids = (tmp / "ids.txt").read_text().split()
        deadline = time.monotonic() + args.settle
        while sum(1 for t in ids if t in watch.seen) < len(ids) and time.monotonic() < deadline:
            time.sleep(0.2)
        cpu = cpu_per_task(cpu_before, cpu_snapshot(proc.pid, postmaster), len(ids), load_out.get("client_cpu_s"))
        result = report(args, load_out, started, watch, creation_times(url, ids), info, cpu)
    finally:
        watch.stop.set()
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        core.delete_namespace(namespace, propagation_policy="Background")
        server.cleanup()
    out = args.json or Path(f"kube_submit_bench-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.json")
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    print(f"JSON: {out}   logs: {tmp}")
    shutil.rmtree(tmp / "pg", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
