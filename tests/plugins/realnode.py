"""Poiesis on the test cluster's real node (a kubelet with containerd), driven through the TES API.

``real_node`` (session) adds the node to the test cluster (`scripts/cluster up --real-node`),
builds the Poiesis image (`scripts/image build`) and loads it, with the busybox image the
executors use, into the node's containerd: no registry anywhere. ``tes_real`` (module) is a
deployment on it: a namespace with TRec's ServiceAccount and Role, the database Secret, a
`poiesis api` process with the kubernetes backend and a `poiesis tctl` replica, both on this
host. Pods reach host services only through relays on the node bridge's host address
(``NODE_IP``): PostgreSQL, the HTTP file server and MinIO each get one (socat, stopped by pid).

With CI=true anything missing fails the tests; locally they are skipped with the reason.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from kubernetes import client as k8s
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.plugins import unavailable
from tests.plugins.api import BASE, wait_http
from tests.plugins.kube import SCRIPT, Cluster
from tests.plugins.pg import create_database
from tests.plugins.servers import HttpServer, S3Server, free_port

REPO = Path(__file__).resolve().parents[2]
NODE_IP = "10.123.0.1"
NODE_LABEL = "poiesis.io/realnode"
BUSYBOX = os.environ.get("POIESIS_TEST_IMAGE", "localhost/poiesis/busybox:1.35")
TRANSITIONAL = {"QUEUED", "INITIALIZING", "RUNNING", "PAUSED", "CANCELING"}


@dataclasses.dataclass(frozen=True)
class RealNode:
    """The node's name and the images loaded into its containerd."""

    name: str
    poiesis_image: str
    executor_image: str
    containerd_socket: str


def _run(args: list[str], *, timeout: float, what: str) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        unavailable(f"{what} failed (exit {proc.returncode}):\n{tail}")
    return proc.stdout.strip()


@pytest.fixture(scope="session")
def real_node(kube_cluster: Cluster) -> RealNode:
    """The real node Ready, with the Poiesis and busybox images in its containerd."""
    if os.geteuid() != 0:
        unavailable("the real node needs root (containerd, a bridge, iptables)")
    _run([str(SCRIPT), "up", "--real-node"], timeout=300, what="`scripts/cluster up --real-node`")
    status = json.loads(_run([str(SCRIPT), "status", "--json"], timeout=60, what="`scripts/cluster status`"))
    if not status["real_node"]["up"]:
        unavailable(f"the real node is not Ready: {status['real_node']}")
    image = _run([str(REPO / "scripts" / "image"), "build"], timeout=1800, what="`scripts/image build`").splitlines()[-1]
    if subprocess.run(["podman", "image", "exists", BUSYBOX], check=False).returncode != 0:
        unavailable(f"{BUSYBOX} is not in podman's store: run scripts/podman-setup")
    _run([str(SCRIPT), "load-image", image, BUSYBOX], timeout=600, what="`scripts/cluster load-image`")
    return RealNode(status["real_node"]["name"], image, BUSYBOX, status["real_node"]["containerd_socket"])


@dataclasses.dataclass
class Relay:
    """socat on NODE_IP:port forwarding to a service of this host, so Pods can reach it."""

    port: int
    proc: subprocess.Popen

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=10)


def start_relay(target: str) -> Relay:
    """Relay NODE_IP:<free port> to ``target`` (a socat address: TCP:127.0.0.1:P or UNIX-CONNECT:PATH)."""
    port = free_port()
    proc = subprocess.Popen(
        ["socat", f"TCP-LISTEN:{port},bind={NODE_IP},fork,reuseaddr", target],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while subprocess.run(["ss", "-ltnH", f"src {NODE_IP}:{port}"], capture_output=True, text=True).stdout == "":
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"socat relay to {target} did not start")
        time.sleep(0.05)
    return Relay(port, proc)


def database_relay(url: str) -> tuple[Relay, str]:
    """A relay to the test PostgreSQL and the URL a Pod uses through it."""
    params = conninfo_to_dict(url)
    host, port = params.get("host") or "/tmp", params.get("port") or "5432"
    target = f"UNIX-CONNECT:{host}/.s.PGSQL.{port}" if str(host).startswith("/") else f"TCP:{host}:{port}"
    relay = start_relay(target)
    return relay, make_conninfo(url, host=NODE_IP, port=str(relay.port))


@dataclasses.dataclass
class TesOnNode:
    """A Poiesis deployment whose tasks run on the real node; talk to it through ``base``."""

    base: str
    db_url: str
    namespace: str
    core: k8s.CoreV1Api
    batch: k8s.BatchV1Api
    http: HttpServer
    http_relay: Relay
    s3: S3Server
    s3_relay: Relay
    node: RealNode
    logs: Path
    pids: dict[str, int]  # the `poiesis api` and `poiesis tctl` processes started for it

    def create(self, task: dict[str, Any]) -> str:
        response = requests.post(f"{self.base}/tasks", json=task, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()["id"]

    def get(self, task_id: str, view: str = "FULL") -> dict[str, Any]:
        response = requests.get(f"{self.base}/tasks/{task_id}", params={"view": view}, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    def cancel(self, task_id: str) -> None:
        response = requests.post(f"{self.base}/tasks/{task_id}:cancel", timeout=30)
        assert response.status_code == 200, response.text

    def wait(self, task_id: str, *, timeout: float = 180, until: Callable[[dict], bool] | None = None) -> dict[str, Any]:
        """GetTask FULL until the task is terminal (or ``until`` holds); fail after ``timeout``."""
        done = until or (lambda t: t["state"] not in TRANSITIONAL)
        deadline = time.monotonic() + timeout
        while True:
            task = self.get(task_id)
            if done(task):
                return task
            if time.monotonic() > deadline:
                raise AssertionError(f"task {task_id} still {task['state']} after {timeout}s: {task}")
            time.sleep(0.25)

    def http_url(self, path: str) -> str:
        """A URL of the HTTP file server as Pods see it."""
        return f"http://{NODE_IP}:{self.http_relay.port}/{path.lstrip('/')}"

    def ended_by(self, task_id: str) -> str | None:
        """Which component wrote the task's terminal state (the database's record)."""
        with psycopg.connect(self.db_url) as conn:
            row = conn.execute("SELECT ended_by FROM tasks WHERE id = %s", (task_id,)).fetchone()
        return row[0] if row else None

    def task_objects(self, task_id: str) -> list[str]:
        """The Kubernetes objects of a task still present (Job, Pods, PVC, Secret)."""
        selector = f"poiesis.io/task={task_id}"
        found = [f"job/{j.metadata.name}" for j in self.batch.list_namespaced_job(self.namespace, label_selector=selector).items]
        found += [f"pod/{p.metadata.name}" for p in self.core.list_namespaced_pod(self.namespace, label_selector=selector).items]
        found += [f"pvc/{c.metadata.name}" for c in self.core.list_namespaced_persistent_volume_claim(
            self.namespace, label_selector=selector).items]
        found += [f"secret/{s.metadata.name}" for s in self.core.list_namespaced_secret(
            self.namespace, label_selector=selector).items]
        return found


def _trec_rbac(core: k8s.CoreV1Api, rbac: k8s.RbacAuthorizationV1Api, namespace: str) -> None:
    """TRec's ServiceAccount and Role: read its own Pod (docs/kubernetes.md, RBAC)."""
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "poiesis-trec"}})
    rbac.create_namespaced_role(namespace, {
        "metadata": {"name": "poiesis-trec"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
                  {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]}],
    })
    rbac.create_namespaced_role_binding(namespace, {
        "metadata": {"name": "poiesis-trec"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "poiesis-trec"},
        "subjects": [{"kind": "ServiceAccount", "name": "poiesis-trec", "namespace": namespace}],
    })


def deployment_env(*, namespace: str, node: RealNode, kubeconfig: Path, db_url: str) -> dict[str, str]:
    """The environment `poiesis api` and `poiesis tctl` run with on this deployment."""
    toleration = {"key": NODE_LABEL, "operator": "Exists", "effect": "NoSchedule"}
    return {
        **os.environ,
        "POIESIS_DATABASE_URL": db_url,
        "POIESIS_BACKEND": "kubernetes",
        "POIESIS_KUBE_KUBECONFIG": str(kubeconfig),
        "POIESIS_KUBE_NAMESPACE": namespace,
        "POIESIS_KUBE_IMAGE": node.poiesis_image,
        "POIESIS_KUBE_IMAGE_PULL_POLICY": "Never",
        "POIESIS_KUBE_SERVICE_ACCOUNT": "poiesis-trec",
        "POIESIS_KUBE_NODE_SELECTOR": json.dumps({NODE_LABEL: "true"}),
        "POIESIS_KUBE_TOLERATIONS": json.dumps([toleration]),
        "POIESIS_KUBE_FILER_ENV_SECRET": "poiesis-filer",
        # the test cluster's hostPath provisioner makes each task volume a root-owned 0750
        # directory, and hostPath volumes ignore fsGroup: with a PVC per task the filers must
        # run as root here, so the restricted defaults are off (the chart's test runs them,
        # with POIESIS_KUBE_TRANSFER_VOLUME=emptyDir: tests/deploy)
        "POIESIS_KUBE_TRANSFER_VOLUME": "pvc",
        "POIESIS_KUBE_POD_SECURITY_CONTEXT": "{}",
        "POIESIS_KUBE_CONTAINER_SECURITY_CONTEXT": json.dumps({"runAsUser": 0}),
        "POIESIS_KUBE_EXECUTOR_SECURITY_CONTEXT": "{}",
        "POIESIS_KUBE_TTL_SECONDS": "none",
        "POIESIS_KUBE_PENDING_TIMEOUT": "20",
        "POIESIS_KUBE_QUEUED_GRACE": "30",
        "POIESIS_KUBE_RESYNC": "2",
        "POIESIS_KUBE_LEASE_DURATION": "3",
        "POIESIS_KUBE_LEASE_RENEW": "1",
    }


@pytest.fixture(scope="module")
def tes_real(
    real_node: RealNode, kube_cluster: Cluster, pg_admin_url: str, pg_template: str,
    http_server: HttpServer, s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[TesOnNode]:
    """A namespace, `poiesis api` and `poiesis tctl` running tasks on the real node, for one test module.

    A module's ``POIESIS_ENV`` dict, if any, overrides the deployment's settings.
    """
    logs = tmp_path_factory.mktemp("tes-real")
    core, rbac = k8s.CoreV1Api(kube_cluster.api), k8s.RbacAuthorizationV1Api(kube_cluster.api)
    namespace = f"e2e-{uuid.uuid4().hex[:8]}"
    db_url = create_database(pg_admin_url, pg_template)
    relays: list[Relay] = []
    procs: list[subprocess.Popen] = []
    try:
        db_relay, pod_db_url = database_relay(db_url)
        http_relay = start_relay(f"TCP:127.0.0.1:{http_server.port}")
        s3_relay = start_relay(f"TCP:127.0.0.1:{s3_server.port}")
        relays += [db_relay, http_relay, s3_relay]
        core.create_namespace({"metadata": {"name": namespace}})
        _trec_rbac(core, rbac, namespace)
        core.create_namespaced_secret(namespace, {"metadata": {"name": "poiesis-db"}, "stringData": {"url": pod_db_url}})
        filer_env = s3_server.env(endpoint=f"http://{NODE_IP}:{s3_relay.port}")
        # the HTTP relay listens on the node's private address, which the filers refuse unless allowed
        filer_env["POIESIS_FILER_ALLOW_NETWORKS"] = f"http={NODE_IP}/32"
        core.create_namespaced_secret(namespace, {"metadata": {"name": "poiesis-filer"}, "stringData": filer_env})
        env = deployment_env(namespace=namespace, node=real_node, kubeconfig=kube_cluster.kubeconfig, db_url=db_url)
        env.update(getattr(request.module, "POIESIS_ENV", {}))
        port = free_port()
        procs.append(_start([sys.executable, "-m", "poiesis.cli", "api", "--port", str(port)], env=env,
                            log=logs / "api.log"))
        procs.append(_start([sys.executable, "-m", "poiesis.cli", "tctl", "--identity", "tctl-e2e"], env=env,
                            log=logs / "tctl.log"))
        wait_http(f"http://127.0.0.1:{port}{BASE}/service-info", proc=procs[0])
        yield TesOnNode(
            base=f"http://127.0.0.1:{port}{BASE}", db_url=db_url, namespace=namespace, core=core,
            batch=k8s.BatchV1Api(kube_cluster.api), http=http_server, http_relay=http_relay, s3=s3_server,
            s3_relay=s3_relay, node=real_node, logs=logs, pids={"api": procs[0].pid, "tctl": procs[1].pid},
        )
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        _delete_namespace(core, namespace)
        for relay in relays:
            relay.stop()


def _start(args: list[str], *, env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)


def _delete_namespace(core: k8s.CoreV1Api, namespace: str) -> None:
    """Delete the namespace and wait until it is gone, so its Pods leave the node before the next module."""
    try:
        core.delete_namespace(namespace, propagation_policy="Background")
    except k8s.ApiException as err:
        if err.status == 404:
            return
        raise
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            core.read_namespace(namespace)
        except k8s.ApiException as err:
            if err.status == 404:
                return
        time.sleep(0.5)
