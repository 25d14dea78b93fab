#!/usr/bin/env python3
"""How many task submissions per second this API server takes at all, with no Poiesis process involved.

Not a test: it prints numbers. One command:

    eval "$(scripts/cluster env)"          # KUBECONFIG of the running KWOK test cluster
    python bench/apiserver_ceiling.py [--tasks 1000] [--json FILE] [--only NAME ...]

Each run gets a fresh namespace; the compiled ``bench/apiserver_load`` sends ``--tasks`` units
at concurrency ``c``, a unit being the requests Poiesis makes for one task, one after the
other, built by ``poiesis.kube.build`` from a realistic task (two executors, an S3 input and
output, as bench/tesload sends):

- ``job-suspended``: the Job alone, suspended (nothing follows: the API server and etcd only);
- ``job``: the Job alone, running (the Job controller makes its Pod, the scheduler binds it,
  KWOK runs it: the cascade each task starts, competing for the same API server);
- ``job+secret+pvc``: what Poiesis submits with ``POIESIS_KUBE_TRANSFER_VOLUME=pvc`` (3 requests);
- ``job+secret``: with ``emptyDir`` (2 requests; the chart's default);
- ``job(ephemeral pvc)+secret``: the task volume as a generic ephemeral volume in the Pod
  template instead of a PVC Poiesis creates (2 requests from the client; the controller-manager
  creates the claim when the Pod appears).

Besides units/s and request latency it reads the CPU time kube-apiserver, etcd,
kube-controller-manager, kube-scheduler and kwok spent during the run (from the cluster's pid
files, ``POIESIS_CLUSTER_DIR``) and reports it per task: on a machine with C cores, no client
gets more than about C / (API-server + etcd CPU per task) tasks per second.
Results (with the machine and load average) to ``--json`` (default
bench/results/apiserver_ceiling-<UTC time>.json).
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

from common import build_go, cluster_pids, cpu_seconds, machine
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from generated.models import TesTask
from poiesis.config.kube import KubeSettings
from poiesis.kube import build

RESULTS = Path(__file__).resolve().parent / "results"
#: like bench/tesload's task body: two executors, an S3 input and output, resources
TASK = TesTask.model_validate({
    "name": "ceiling", "description": "apiserver ceiling task",
    "inputs": [{"name": "reads", "url": "s3://bench-bucket/inputs/sample.fastq.gz",
                "path": "/data/in/sample.fastq.gz", "type": "FILE"}],
    "outputs": [{"name": "result", "url": "s3://bench-bucket/outputs/count.txt", "path": "/data/out/count.txt",
                 "type": "FILE"}],
    "resources": {"cpu_cores": 1, "ram_gb": 1.0, "disk_gb": 1.0},
    "executors": [
        {"image": "ubuntu:22.04", "command": ["bash", "-c", "zcat /data/in/sample.fastq.gz | wc -l > /data/out/count.txt"],
         "workdir": "/data", "env": {"SAMPLE": "sample", "THREADS": "2"}},
        {"image": "quay.io/biocontainers/samtools:1.19--h50ea8bc_0", "command": ["samtools", "--version"],
         "env": {"LC_ALL": "C"}},
    ],
    "tags": {"project": "proj", "owner": "user"},
})
OWNER = build.owner_reference(name="__OWNER_NAME__", uid="__OWNER_UID__")
DEFAULT_RUNS = [("job-suspended", 8), ("job-suspended", 32), ("job-suspended", 64), ("job", 32),
                ("job+secret+pvc", 32), ("job+secret", 32), ("job(ephemeral pvc)+secret", 32)]


def units(kind: str, namespace: str, n: int) -> list[list[dict]]:
    cfg = KubeSettings(namespace=namespace, ttl_seconds_after_finished=None,
                       transfer_volume="pvc" if kind == "job+secret+pvc" else "emptyDir")
    jobs, secrets, pvcs = (f"/apis/batch/v1/namespaces/{namespace}/jobs", f"/api/v1/namespaces/{namespace}/secrets",
                           f"/api/v1/namespaces/{namespace}/persistentvolumeclaims")
    out = []
    for _ in range(n):
        task_id = str(uuid.uuid4())
        job = build.build_job(task_id, TASK, cfg, suspend=kind == "job-suspended")
        owner = {**OWNER, "name": build.job_name(task_id)}
        unit = [{"path": jobs, "body": job}]
        if kind == "job(ephemeral pvc)+secret":
            claim = build.build_pvc(task_id, TASK, cfg, owner=owner)
            volumes = job["spec"]["template"]["spec"]["volumes"]
            volumes[0] = {"name": "transfer", "ephemeral": {"volumeClaimTemplate": {
                "metadata": {"labels": claim["metadata"]["labels"]}, "spec": claim["spec"]}}}
        if "secret" in kind:
            unit.append({"path": secrets, "body": build.build_secret(task_id, TASK, cfg, owner=owner)})
        if "pvc" in kind and "ephemeral" not in kind:
            unit.append({"path": pvcs, "body": build.build_pvc(task_id, TASK, cfg, owner=owner)})
        out.append(copy.deepcopy(unit))
    return out


def wait_gone(core: k8s.CoreV1Api, namespace: str, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            core.read_namespace(namespace)
        except k8s.ApiException as exc:
            if exc.status == 404:
                break
        time.sleep(1)
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"))
    parser.add_argument("--only", nargs="*", help="run only these kinds (default: all)")
    parser.add_argument("-c", type=int, nargs="*", help="concurrencies (default: per kind, see DEFAULT_RUNS)")
    parser.add_argument("--settle", type=float, default=90,
                        help="seconds to wait for a run's namespace to be gone before the next run")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not args.kubeconfig:
        raise SystemExit("set KUBECONFIG (eval \"$(scripts/cluster env)\") or pass --kubeconfig")
    loader = build_go("apiserver_load")
    api = k8s_config.new_client_from_config(config_file=args.kubeconfig)
    core = k8s.CoreV1Api(api)
    runs = [(k, c) for k, c in DEFAULT_RUNS if not args.only or k in args.only]
    if args.c:
        runs = list(dict.fromkeys((k, c) for k, _ in runs for c in args.c))
    result = {"tasks": args.tasks, "machine": machine(),
              "kubernetes": k8s.VersionApi(api).get_code().git_version, "runs": []}
    pids = cluster_pids()
    tmp = Path(tempfile.mkdtemp(prefix="apiserver-ceiling-"))
    for kind, c in runs:
        namespace = f"ceiling-{uuid.uuid4().hex[:8]}"
        core.create_namespace({"metadata": {"name": namespace}})
        while not core.list_namespaced_service_account(namespace).items:
            time.sleep(0.2)
        path = tmp / "units.ndjson"
        with path.open("w") as f:
            for unit in units(kind, namespace, args.tasks):
                f.write(json.dumps(unit, separators=(",", ":")) + "\n")
        load_before = os.getloadavg()
        cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
        out = os.popen(f"{loader} -kubeconfig {args.kubeconfig} -in {path} -c {c} -label '{kind}'").read()
        cpu1 = {name: cpu_seconds(pid) for name, pid in pids.items()}
        run = json.loads(out.strip().splitlines()[-1])
        run.update(kind=kind, load_avg_before=load_before, load_avg_after=os.getloadavg(),
                   cpu_ms_per_task={n: round((cpu1[n] - cpu0[n]) * 1000 / max(1, run["units_ok"]), 2) for n in pids})
        server_ms = run["cpu_ms_per_task"].get("kube-apiserver", 0) + run["cpu_ms_per_task"].get("etcd", 0)
        run["tasks_per_s_if_2_cores_all_apiserver_etcd"] = round(2000 / server_ms, 1) if server_ms else None
        result["runs"].append(run)
        print(f"{kind:28s} c={c:3d}: {run['units_per_s']:6.1f} tasks/s, {run['requests_per_s']:6.1f} req/s,"
              f" p50 {run['p50_ms']:.0f} ms p99 {run['p99_ms']:.0f} ms, errors {run['errors']},"
              f" apiserver+etcd {server_ms:.1f} ms CPU/task, load {load_before[0]:.1f} -> {os.getloadavg()[0]:.1f}",
              flush=True)
        core.delete_namespace(namespace, propagation_policy="Background")
        run["namespace_gone_after_s"] = round(wait_gone(core, namespace, args.settle), 1)
    out_file = args.json or RESULTS / f"apiserver_ceiling-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.json"
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(json.dumps(result, indent=2) + "\n")
    print(f"JSON: {out_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
