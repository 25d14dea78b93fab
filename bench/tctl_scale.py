#!/usr/bin/env python3
"""TCtl at N running task Pods: informer memory, and how fast a burst of Pod ends reaches the database.

Not a test: it prints numbers. One command:

    eval "$(scripts/cluster env)"          # KUBECONFIG of the running KWOK test cluster
    python bench/tctl_scale.py [--tasks 10000] [-c 32] [--json FILE]

What it does, on the KWOK cluster with a fresh embedded PostgreSQL (pgserver) and a fresh namespace:

1. stores N tasks (``Store.create_task``, one executor each), then moves them all to RUNNING
   in one UPDATE (setup, not measured);
2. creates N task Pods **directly through the API server** (not through Jobs: the Job
   controller and the scheduler would add minutes to the setup and nothing to what is measured).
   Each Pod is the Pod template ``kube.build.build_job`` makes for its task (labels included,
   transfer volume ``emptyDir``), with ``nodeName`` set to the KWOK node. The Pods are POSTed
   by the compiled ``bench/apiserver_load`` at concurrency ``-c``, which then writes each
   Pod's status as the kubelet would have it mid-task ("trec running, tif done, executor-0
   running", one PATCH of the status subresource). KWOK, left to do it, took five status
   writes per Pod at about 23 per second on this machine (over half an hour for 10,000);
   given that status, its stages wait for the executor's ``POIESIS_KWOK_RUN_MS`` (an hour)
   and write nothing more;
3. waits until KWOK has every Pod in that state, then starts a real ``poiesis tctl`` process
   (its own Lease, so it leads at once; ``POIESIS_KUBE_LOG_TAIL_BYTES=0`` because KWOK serves no
   container logs), times its informer's first list (``/readyz``) and samples its resident
   memory (``VmRSS`` and the peak ``VmHWM`` from /proc/<pid>/status) at rest for ``--rest`` s;
4. ends every Pod in a burst: one merge PATCH of the status subresource per Pod (every
   container terminated with exit code 0, ``tof`` finished now, phase ``Succeeded``: what the
   kubelet reports once a Pod is over), again from ``apiserver_load`` at ``-c``, which notes
   when the API server acknowledged each patch. TRec runs nowhere here, so every terminal
   state is TCtl's;
5. waits until no task is active and reports, per task, Pod end (the patch acknowledged) →
   terminal state written (``tasks.updated_at``, set by ``write_terminal_state``; same host,
   same clock) p50/p99/max, the reconcile lag (last Pod end → last terminal write), TCtl's
   RSS during the burst and its CPU time, the machine and versions;
6. deletes the Pods with grace 0 (one DELETE each, from ``apiserver_load``: there is no kubelet
   to wait for, and KWOK would take two more writes per Pod), then the namespace.

The table goes to stdout; the same figures as JSON to ``--json`` (default:
bench/results/tctl_scale-<N>-<UTC time>.json).
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
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
from common import build_go, cpu_seconds, free_port, machine

from generated.models import TesTask
from poiesis import store
from poiesis.config.kube import KubeSettings
from poiesis.kube import build
from poiesis.kube.client import Kube, api_client

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
NODE = "kwok-node-0"
RUN_MS = 3_600_000
TASK = TesTask.model_validate({
    "name": "tctl-scale",
    "executors": [{"image": "alpine:3", "command": ["true"], "env": {"POIESIS_KWOK_RUN_MS": str(RUN_MS)}}],
})
#: the Pod as the kubelet reports it once it is over; __NOW__ is filled in by apiserver_load per request
STARTED = "2026-01-01T00:00:00Z"
#: the first line of TCtl's log: the poiesis package it imported
RAN_FROM = "tctl_scale: poiesis from "
#: ``python -c RUN_TCTL SOURCE tctl ...``: ``poiesis tctl`` with SOURCE first on sys.path. PYTHONPATH is not
#: enough: ``python -m`` and ``-c`` put the working directory before it, so a run from the repository root
#: imported that checkout's poiesis, whatever --source said.
RUN_TCTL = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); import poiesis; "
    f"print({RAN_FROM!r} + poiesis.__file__, flush=True); "
    "from poiesis.cli import main; sys.exit(main())"
)


def ended_status(image: str) -> dict:
    def done(name: str, img: str, start: str, end: str) -> dict:
        return {"name": name, "image": img, "imageID": f"kwok://{img}", "ready": False, "restartCount": 0,
                "started": False,
                "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": start, "finishedAt": end}}}

    cond = [{"type": t, "status": s, "lastProbeTime": None, "lastTransitionTime": "__NOW__", **extra}
            for t, s, extra in (("PodReadyToStartContainers", "False", {}), ("Initialized", "True", {}),
                                ("Ready", "False", {"reason": "PodCompleted"}),
                                ("ContainersReady", "False", {"reason": "PodCompleted"}),
                                ("PodScheduled", "True", {}))]
    return {"status": {
        "phase": "Succeeded",
        "conditions": cond,
        "initContainerStatuses": [done("trec", image, STARTED, "__NOW__"), done("tif", image, STARTED, STARTED),
                                  done("executor-0", "alpine:3", STARTED, "__NOW__")],
        "containerStatuses": [done("tof", image, "__NOW__", "__NOW__")],
    }}


def running_status(image: str) -> dict:
    """Mid-task, as a kubelet reports it: trec running (started), tif done, executor-0 running, tof waiting."""
    def container(name: str, img: str, state: dict, *, started: bool, ready: bool = False) -> dict:
        return {"name": name, "image": img, "imageID": f"kwok://{img}", "ready": ready, "restartCount": 0,
                "started": started, "state": state}

    run = {"running": {"startedAt": STARTED}}
    return {"status": {
        "phase": "Pending", "podIP": "10.244.0.9", "podIPs": [{"ip": "10.244.0.9"}], "hostIP": "127.0.0.1",
        "hostIPs": [{"ip": "127.0.0.1"}], "startTime": STARTED,
        "conditions": [{"type": t, "status": v, "lastProbeTime": None, "lastTransitionTime": STARTED}
                       for t, v in (("PodReadyToStartContainers", "True"), ("Initialized", "False"),
                                    ("Ready", "False"), ("ContainersReady", "False"), ("PodScheduled", "True"))],
        "initContainerStatuses": [
            container("trec", image, run, started=True, ready=True),
            container("tif", image, {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": STARTED,
                                                     "finishedAt": STARTED}}, started=False),
            container("executor-0", "alpine:3", run, started=True),
        ],
        "containerStatuses": [container("tof", image, {"waiting": {"reason": "PodInitializing"}}, started=False)],
    }}


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM in KiB (0 once the process is gone)."""
    out = {"VmRSS": 0, "VmHWM": 0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key = line.split(":", 1)[0]
            if key in out:
                out[key] = int(line.split()[1])
    except OSError:
        pass
    return out


def ran_from(log: Path) -> str:
    """The poiesis package file TCtl imported: the first line ``RUN_TCTL`` wrote to its log."""
    first = log.read_text().partition("\n")[0]
    if not first.startswith(RAN_FROM):
        raise SystemExit(f"tctl's log does not start with {RAN_FROM!r}: {first!r}")
    return first.removeprefix(RAN_FROM)


def versions(url: str, kube: Kube, source: Path) -> dict[str, str]:
    rev = subprocess.run(["git", "-C", str(source), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    branch = subprocess.run(["git", "-C", str(source), "rev-parse", "--abbrev-ref", "HEAD"], capture_output=True,
                            text=True)
    from kubernetes import client as k8s

    with psycopg.connect(url) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
    return {"python": platform.python_version(), "kubernetes": k8s.VersionApi(kube.api).get_code().git_version,
            "postgresql": pg, "poiesis": f"{branch.stdout.strip()}@{rev.stdout.strip()}"}


def run_load(binary: Path, kubeconfig: str, units: list[list[dict]], path: Path, c: int, label: str,
             acks: Path | None = None) -> dict:
    with path.open("w") as f:
        for unit in units:
            f.write(json.dumps(unit, separators=(",", ":")) + "\n")
    cmd = [str(binary), "-kubeconfig", kubeconfig, "-in", str(path), "-c", str(c), "-label", label]
    if acks:
        cmd += ["-acks", str(acks)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def executor_running(pod: dict) -> bool:
    for s in (pod.get("status") or {}).get("initContainerStatuses") or []:
        if s["name"] == "executor-0":
            return bool((s.get("state") or {}).get("running"))
    return False


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except OSError:
        return 0, ""


def metric(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith((name + " ", name + "{")):
            return float(line.rsplit(" ", 1)[1])
    return None


class Sampler(threading.Thread):
    """VmRSS of a process every ``period`` s; keeps the series."""

    def __init__(self, pid: int, period: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.pid, self.period = pid, period
        self.samples: list[tuple[float, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.samples.append((time.time(), proc_status(self.pid)["VmRSS"]))
            self.stop.wait(self.period)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10000)
    parser.add_argument("-c", type=int, default=32, help="concurrency of the Pod creates and of the burst's patches")
    parser.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"))
    parser.add_argument("--rest", type=float, default=15, help="seconds TCtl rests after its first list (RSS samples)")
    parser.add_argument("--setup-timeout", type=float, default=1800, help="for KWOK to bring every Pod up")
    parser.add_argument("--timeout", type=float, default=900, help="for every task to end after the burst")
    parser.add_argument("--source", type=Path, default=REPO,
                        help="checkout whose poiesis package TCtl runs (first on its sys.path), e.g. an older commit"
                             " for a before/after")
    parser.add_argument("--keep-pods", action="store_true",
                        help="skip deleting the Pods one by one (when the cluster is thrown away next anyway)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not args.kubeconfig:
        raise SystemExit("set KUBECONFIG (eval \"$(scripts/cluster env)\") or pass --kubeconfig")
    args.source = args.source.resolve()
    loader = build_go("apiserver_load")
    result: dict = {"tasks": args.tasks, "concurrency": args.c, "machine": machine(), "source": str(args.source),
                    "pods": ("created directly (not through Jobs), nodeName " + NODE + ", transfer volume emptyDir;"
                             " 'executor-0 running' status written by the bench, not KWOK")}
    tmp = Path(tempfile.mkdtemp(prefix="tctl-scale-"))
    import pgserver

    server = pgserver.get_server(tmp / "pg", cleanup_mode="stop")
    url = server.get_uri()
    store.migrate(url)
    namespace = f"scale-{uuid.uuid4().hex[:8]}"
    kube = Kube(api_client(args.kubeconfig), namespace)
    kube.core.create_namespace({"metadata": {"name": namespace}})
    result["versions"] = versions(url, kube, args.source)
    tctl = None
    pod_of: dict[str, str] = {}
    try:
        while not kube.core.list_namespaced_service_account(namespace).items:
            time.sleep(0.2)
        # 1. tasks, RUNNING
        t0 = time.monotonic()
        pool = store.open_pool(url, min_size=4, max_size=4)
        st = store.Store(pool)
        with ThreadPoolExecutor(4) as ex:
            ids = list(ex.map(lambda _: st.create_task(TASK), range(args.tasks)))
        pool.close()
        with psycopg.connect(url) as conn:
            conn.execute("UPDATE tasks SET state = 'RUNNING', start_time = clock_timestamp(),"
                         " updated_at = clock_timestamp() WHERE id = ANY(%s)", (ids,))
        result["setup_tasks_s"] = round(time.monotonic() - t0, 1)
        print(f"{args.tasks} tasks RUNNING in the database ({result['setup_tasks_s']} s)", flush=True)

        # 2. Pods, as build.py makes them
        cfg = KubeSettings(namespace=namespace, transfer_volume="emptyDir", ttl_seconds_after_finished=None)
        units = []
        for task_id in ids:
            template = build.build_job(task_id, TASK, cfg, suspend=False)["spec"]["template"]
            name = f"{build.job_name(task_id)}-bench"
            pod_of[name] = task_id
            pod = {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": name, "namespace": namespace, "labels": template["metadata"]["labels"]},
                   "spec": {**template["spec"], "nodeName": NODE}}
            units.append([{"path": f"/api/v1/namespaces/{namespace}/pods", "body": pod}])
        result["pod_json_bytes"] = len(json.dumps(units[0][0]["body"]))
        created = run_load(loader, args.kubeconfig, units, tmp / "pods.ndjson", args.c, "create pods")
        result["create_pods"] = {**created, "load_avg": os.getloadavg()}
        print(f"created {created['units_ok']} Pods: {created['units_per_s']:.0f}/s,"
              f" p50 {created['p50_ms']:.0f} ms, p99 {created['p99_ms']:.0f} ms (load {os.getloadavg()[0]:.1f})",
              flush=True)
        if created["units_ok"] != args.tasks:
            raise SystemExit(f"not every Pod was created: {created}")
        running = running_status(cfg.image)
        units = [[{"method": "PATCH", "path": f"/api/v1/namespaces/{namespace}/pods/{name}/status", "body": running}]
                 for name in pod_of]
        up = run_load(loader, args.kubeconfig, units, tmp / "up.ndjson", args.c, "pods running")
        result["pods_running"] = {**up, "load_avg": os.getloadavg()}
        print(f"status 'executor-0 running' written for {up['units_ok']} Pods: {up['units_per_s']:.0f}/s", flush=True)

        t0 = time.monotonic()
        while True:
            items, _ = kube.list_pods(label_selector=build.TASK_LABEL)
            n_up = sum(1 for p in items if executor_running(p))
            del items
            print(f"  {n_up}/{args.tasks} Pods with executor-0 running", flush=True)
            if n_up >= args.tasks:
                break
            if time.monotonic() - t0 > args.setup_timeout:
                raise SystemExit("the Pods did not all reach 'executor-0 running' in time")
            time.sleep(5)
        result["setup_wait_s"] = round(time.monotonic() - t0, 1)

        # 3. TCtl
        port = free_port()
        env = {**os.environ, "POIESIS_DATABASE_URL": url, "POIESIS_KUBE_NAMESPACE": namespace,
               "POIESIS_KUBE_KUBECONFIG": args.kubeconfig, "POIESIS_KUBE_LOG_TAIL_BYTES": "0",
               "POIESIS_KUBE_TRANSFER_VOLUME": "emptyDir"}
        log = tmp / "tctl.log"
        started = time.monotonic()
        tctl = subprocess.Popen([sys.executable, "-c", RUN_TCTL, str(args.source), "tctl", "--identity", "bench",
                                 "--http-port", str(port)], env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        while get(f"{base}/readyz")[0] != 200:
            if tctl.poll() is not None or time.monotonic() - started > 300:
                raise SystemExit(f"tctl did not get ready; see {log}")
            time.sleep(0.05)
        ran = ran_from(log)
        result["tctl_poiesis_file"] = ran
        print(f"tctl runs {ran}", flush=True)
        if not Path(ran).is_relative_to(args.source):
            raise SystemExit(f"tctl imported poiesis from {ran}, not from --source {args.source}")
        synced_s = time.monotonic() - started
        at_sync = proc_status(tctl.pid)
        print(f"tctl informer synced {synced_s:.1f} s after start; VmRSS {at_sync['VmRSS'] / 1024:.0f} MiB", flush=True)
        while (metric(get(f"{base}/metrics")[1], "poiesis_tctl_reconciles_total") or 0) < 1:
            time.sleep(0.1)
        first_pass_s = time.monotonic() - started
        rest = Sampler(tctl.pid, 0.5)
        rest.start()
        time.sleep(args.rest)
        rest.stop.set()
        rest.join()
        at_rest = proc_status(tctl.pid)
        cpu_before = cpu_seconds(tctl.pid)
        result["tctl_at_rest"] = {
            "informer_synced_s": round(synced_s, 2), "first_reconcile_done_s": round(first_pass_s, 2),
            "rss_at_sync_mib": round(at_sync["VmRSS"] / 1024, 1),
            "rss_at_rest_mib": {"min": round(min(r for _, r in rest.samples) / 1024, 1),
                                "max": round(max(r for _, r in rest.samples) / 1024, 1)},
            "rss_peak_so_far_mib": round(at_rest["VmHWM"] / 1024, 1),
            "rest_s": args.rest, "cpu_s_so_far": round(cpu_before, 2), "load_avg": os.getloadavg(),
        }
        print(f"tctl at rest: VmRSS {result['tctl_at_rest']['rss_at_rest_mib']} MiB, VmHWM"
              f" {result['tctl_at_rest']['rss_peak_so_far_mib']} MiB (load {os.getloadavg()[0]:.1f})", flush=True)

        # 4. the burst
        patch = json.loads(json.dumps(ended_status(cfg.image)))
        units = [[{"method": "PATCH", "path": f"/api/v1/namespaces/{namespace}/pods/{name}/status", "body": patch}]
                 for name in pod_of]
        burst = Sampler(tctl.pid, 0.25)
        burst.start()
        load_before = os.getloadavg()
        ended = run_load(loader, args.kubeconfig, units, tmp / "ends.ndjson", args.c, "end pods", acks=tmp / "acks.tsv")
        print(f"ended {ended['units_ok']} Pods in {ended['elapsed_s']:.1f} s ({ended['units_per_s']:.0f}/s)", flush=True)
        acks: dict[str, float] = {}
        for line in (tmp / "acks.tsv").read_text().splitlines():
            path, ns = line.split("\t")
            acks[pod_of[path.split("/")[-2]]] = int(ns) / 1e9
        t0 = time.monotonic()
        with psycopg.connect(url, autocommit=True) as conn:
            while True:
                left = conn.execute("SELECT count(*) FROM tasks WHERE state IN"
                                    " ('QUEUED','INITIALIZING','RUNNING','PAUSED','CANCELING')").fetchone()[0]
                if left == 0 or time.monotonic() - t0 > args.timeout:
                    break
                time.sleep(0.2)
            rows = conn.execute("SELECT id, state, ended_by, extract(epoch FROM updated_at)::float8 FROM tasks").fetchall()
        burst.stop.set()
        burst.join()
        cpu_after = cpu_seconds(tctl.pid)
        peak = proc_status(tctl.pid)["VmHWM"]
        metrics_text = get(f"{base}/metrics")[1]

        # 5. figures
        states: dict[str, int] = {}
        by: dict[str, int] = {}
        for _, state, ended_by, _ in rows:
            states[state] = states.get(state, 0) + 1
            by[str(ended_by)] = by.get(str(ended_by), 0) + 1
        lags = [(u - acks[i]) * 1000 for i, s, _, u in rows if i in acks and s == "COMPLETE"]
        first_ack, last_ack = min(acks.values()), max(acks.values())
        last_write = max(u for _, s, _, u in rows if s == "COMPLETE") if lags else None
        result["burst"] = {
            "patches": ended, "load_avg_before": load_before, "load_avg_after": os.getloadavg(),
            "pod_ends_s": round(last_ack - first_ack, 2),
            "still_active": left, "final_states": states, "ended_by": by,
            "pod_end_to_terminal_ms": {"n": len(lags), "p50": _r(pct(lags, 50)), "p99": _r(pct(lags, 99)),
                                       "max": _r(max(lags, default=None)), "min": _r(min(lags, default=None))},
            "reconcile_lag_s": {"last_pod_end_to_last_terminal_write": _r(last_write - last_ack if last_write else None),
                                "first_pod_end_to_last_terminal_write": _r(last_write - first_ack if last_write else None)},
            "tctl_rss_mib": {"max": round(max(r for _, r in burst.samples) / 1024, 1),
                             "peak_vmhwm_whole_run": round(peak / 1024, 1),
                             "after": round(burst.samples[-1][1] / 1024, 1)},
            "tctl_cpu_s": round(cpu_after - cpu_before, 2),
            "tctl_reconciles_total": metric(metrics_text, "poiesis_tctl_reconciles_total"),
            "tctl_reconcile_lag_gauge_s": metric(metrics_text, "poiesis_tctl_reconcile_lag_seconds"),
        }
    finally:
        if tctl is not None:
            tctl.terminate()
            try:
                tctl.wait(timeout=20)
            except subprocess.TimeoutExpired:
                tctl.kill()
        if pod_of and not args.keep_pods:
            gone = [[{"method": "DELETE", "path": f"/api/v1/namespaces/{namespace}/pods/{name}",
                      "body": {"gracePeriodSeconds": 0}}] for name in pod_of]
            try:
                deleted = run_load(loader, args.kubeconfig, gone, tmp / "delete.ndjson", args.c, "delete pods")
                print(f"deleted {deleted['units_ok']} Pods (grace 0): {deleted['units_per_s']:.0f}/s", flush=True)
            except subprocess.CalledProcessError as exc:
                print(f"deleting the Pods failed: {exc}", flush=True)
        kube.core.delete_namespace(namespace, propagation_policy="Background")
        server.cleanup()
    result["logs"] = str(tmp)
    out = args.json or RESULTS / f"tctl_scale-{args.tasks}-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    print(f"JSON: {out}   logs: {tmp}")
    shutil.rmtree(tmp / "pg", ignore_errors=True)
    for name in ("pods.ndjson", "up.ndjson", "ends.ndjson", "delete.ndjson"):
        (tmp / name).unlink(missing_ok=True)
    return 0


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def table(r: dict) -> str:
    rest, b = r["tctl_at_rest"], r["burst"]
    lag = b["pod_end_to_terminal_ms"]
    rows = [
        ("tasks (RUNNING, one Pod each)", r["tasks"]),
        ("Pods created directly: per s, p50 / p99 ms", f"{r['create_pods']['units_per_s']:.0f}, "
         f"{r['create_pods']['p50_ms']:.0f} / {r['create_pods']['p99_ms']:.0f}"),
        ("TCtl informer synced after start", f"{rest['informer_synced_s']} s"),
        ("TCtl VmRSS at rest (min-max) / peak before the burst",
         f"{rest['rss_at_rest_mib']['min']}-{rest['rss_at_rest_mib']['max']} / {rest['rss_peak_so_far_mib']} MiB"),
        ("burst: Pods ended (status patches), over", f"{b['patches']['units_ok']}, {b['pod_ends_s']} s"),
        ("Pod end -> terminal p50 / p99 / max", f"{lag['p50']} / {lag['p99']} / {lag['max']} ms (n={lag['n']})"),
        ("reconcile lag: last Pod end -> last terminal write", f"{b['reconcile_lag_s']['last_pod_end_to_last_terminal_write']} s"),
        ("first Pod end -> last terminal write", f"{b['reconcile_lag_s']['first_pod_end_to_last_terminal_write']} s"),
        ("TCtl VmRSS max during burst / VmHWM whole run", f"{b['tctl_rss_mib']['max']} / {b['tctl_rss_mib']['peak_vmhwm_whole_run']} MiB"),
        ("TCtl CPU during burst", f"{b['tctl_cpu_s']} s"),
        ("final states / ended by", f"{b['final_states']} / {b['ended_by']}"),
        ("load average: rest / burst before / after", " / ".join(" ".join(f"{x:.2f}" for x in v) for v in
                                                        (rest["load_avg"], b["load_avg_before"], b["load_avg_after"]))),
        ("machine", f"{r['machine']['cores']} CPUs, {r['machine']['cpu']}, {r['machine']['memory_gib']} GiB"),
        ("versions", ", ".join(f"{k} {v}" for k, v in r["versions"].items())),
        ("TCtl imported", r["tctl_poiesis_file"]),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"| {k.ljust(width)} | {v} |" for k, v in rows)


if __name__ == "__main__":
    sys.exit(main())
