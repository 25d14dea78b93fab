"""The chart installed on the test cluster's real node, in a namespace that enforces Pod Security restricted.

(Admission and RBAC without running containers: test_chart_cluster.py.)

The locally built image runs the API (2 replicas), TCtl (3 replicas) and the migration hook
Job on the real kubelet; tasks go through the API Service's Pod (its address on the node
bridge is reachable from this host) and run as restricted task Pods with the emptyDir task
volume. PostgreSQL and the HTTP file server are this host's, reached through socat relays.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import psycopg
import pytest
import requests
from kubernetes import client as k8s
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tests.api.test_ops import sample
from tests.plugins.helm import CHART, Helm
from tests.plugins.kube import Cluster
from tests.plugins.pg import create_database
from tests.plugins.realnode import (
    BUSYBOX,
    NODE_IP,
    NODE_LABEL,
    TRANSITIONAL,
    RealNode,
    Relay,
    _delete_namespace,
    database_relay,
    start_relay,
)
from tests.plugins.servers import HttpServer

pytestmark = pytest.mark.realnode

RELEASE = "tes"
BASE = "/ga4gh/tes/v1"
PASSWORD = "chart-pw-1"
LEASE_S, RENEW_S = 6, 1


@dataclasses.dataclass
class Installed:
    namespace: str
    api_pods: list[str]
    session: requests.Session
    base: str
    core: k8s.CoreV1Api
    helm: Helm
    kubeconfig: Path
    http: HttpServer
    http_relay: Relay
    install_s: float
    db_url: str

    def pod_ip(self, name: str) -> str:
        return self.core.read_namespaced_pod(name, self.namespace).status.pod_ip

    def tctl_pods(self) -> list[k8s.V1Pod]:
        pods = self.core.list_namespaced_pod(
            self.namespace, label_selector=f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/component=tctl").items
        return [p for p in pods if p.metadata.deletion_timestamp is None]

    def wait(self, task_id: str, *, timeout: float = 180, until: Any = None) -> dict[str, Any]:
        done = until or (lambda t: t["state"] not in TRANSITIONAL)
        deadline = time.monotonic() + timeout
        while True:
            task = self.session.get(f"{self.base}/tasks/{task_id}", params={"view": "FULL"}, timeout=30).json()
            if done(task):
                return task
            assert time.monotonic() < deadline, f"task {task_id} still {task['state']} after {timeout}s: {task}"
            time.sleep(0.5)


def _values(node: RealNode, db_url: str, task_url: str) -> dict[str, Any]:
    repository, tag = node.poiesis_image.rsplit(":", 1)
    placement = {"nodeSelector": {NODE_LABEL: "true"},
                 "tolerations": [{"key": NODE_LABEL, "operator": "Exists", "effect": "NoSchedule"}]}
    passwords = f"alice:{bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()}\n"
    return {
        "image": {"repository": repository, "tag": tag, "pullPolicy": "Never"},
        "database": {"url": db_url, "taskUrl": task_url},
        # the tests' HTTP relay listens on the node's private address: the filers refuse it unless allowed
        "storage": {"env": {"POIESIS_FILER_ALLOW_NETWORKS": f"http={NODE_IP}/32"}},
        "auth": {"mode": "basic", "basic": {"passwords": passwords}},
        "tasks": {**placement, "executorImagePullPolicy": "IfNotPresent"},
        "api": {**placement, "replicas": 2},
        "tctl": {**placement, "env": {"POIESIS_KUBE_LEASE_DURATION": str(LEASE_S),
                                      "POIESIS_KUBE_LEASE_RENEW": str(RENEW_S)}},
        "env": {"POIESIS_KUBE_PENDING_TIMEOUT": "60", "POIESIS_KUBE_QUEUED_GRACE": "30", "POIESIS_KUBE_RESYNC": "2",
                "POIESIS_KUBE_TTL_SECONDS": "none"},
    }


def _diagnose(core: k8s.CoreV1Api, namespace: str) -> str:
    """Pods, their container states and logs, and the namespace's events: why an install did not become ready."""
    lines = []
    for pod in core.list_namespaced_pod(namespace).items:
        lines.append(f"pod {pod.metadata.name} {pod.status.phase} on {pod.spec.node_name}")
        for status in pod.status.container_statuses or []:
            lines.append(f"  {status.name} ready={status.ready} state={status.state.to_dict()}")
            try:
                lines.append("  log: " + core.read_namespaced_pod_log(pod.metadata.name, namespace, container=status.name,
                                                                      tail_lines=15))
            except k8s.ApiException as exc:
                lines.append(f"  no log: {exc.status}")
    lines += [f"event {e.involved_object.name}: {e.reason} {e.message}" for e in core.list_namespaced_event(namespace).items]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def installed(
    real_node: RealNode, kube_cluster: Cluster, helm: Helm, pg_admin_url: str, pg_template: str,
    http_server: HttpServer, tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Installed]:
    """The chart installed into a fresh restricted namespace, its API and TCtl Pods ready."""
    core = k8s.CoreV1Api(kube_cluster.api)
    namespace = f"chart-{uuid.uuid4().hex[:8]}"
    tmp = tmp_path_factory.mktemp("chart")
    db_url = create_database(pg_admin_url, pg_template)
    db_relay, pod_db_url = database_relay(db_url)
    # the task Pods' own role: the migration hook Job makes it (docs/security.md)
    task_role = f"poiesis_task_{uuid.uuid4().hex[:8]}"
    task_url = make_conninfo(pod_db_url, user=task_role, password=uuid.uuid4().hex)
    http_relay = start_relay(f"TCP:127.0.0.1:{http_server.port}")
    core.create_namespace({"metadata": {"name": namespace, "labels": {
        "pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/warn": "restricted"}}})
    values = tmp / "values.json"
    values.write_text(json.dumps(_values(real_node, pod_db_url, task_url)))
    common = ["--kubeconfig", str(kube_cluster.kubeconfig), "-n", namespace, "--values", str(values)]
    try:
        dry = helm.run("install", RELEASE, str(CHART), *common, "--dry-run=server", timeout=300)
        assert "kind: Deployment" in dry.stdout
        started = time.monotonic()
        try:
            helm.run("install", RELEASE, str(CHART), *common, "--wait", "--timeout", "8m", timeout=600)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{_diagnose(core, namespace)}") from None
        install_s = time.monotonic() - started
        pods = core.list_namespaced_pod(namespace, label_selector="app.kubernetes.io/component=api").items
        session = requests.Session()
        session.auth = ("alice", PASSWORD)
        session.headers["Host"] = f"{RELEASE}-poiesis-api.{namespace}.svc"
        api_ip = pods[0].status.pod_ip
        yield Installed(
            namespace=namespace, api_pods=[p.metadata.name for p in pods], session=session,
            base=f"http://{api_ip}:8000{BASE}", core=core, helm=helm, kubeconfig=kube_cluster.kubeconfig,
            http=http_server, http_relay=http_relay, install_s=install_s, db_url=db_url,
        )
    finally:
        if os.environ.get("POIESIS_CHART_KEEP") != "1":
            helm.run("uninstall", RELEASE, "--kubeconfig", str(kube_cluster.kubeconfig), "-n", namespace,
                     "--wait", check=False, timeout=300)
            _delete_namespace(core, namespace)
        http_relay.stop()
        db_relay.stop()
        with contextlib.suppress(psycopg.Error):
            with psycopg.connect(db_url, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(task_role)))
            with psycopg.connect(pg_admin_url, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(task_role)))


def test_installed_pods_are_ready_and_restricted(installed: Installed) -> None:
    """API and TCtl Pods passed readiness in a namespace enforcing restricted; the migration hook ran and left."""
    pods = installed.core.list_namespaced_pod(installed.namespace).items
    by_component: dict[str, list[k8s.V1Pod]] = {}
    for pod in pods:
        by_component.setdefault(pod.metadata.labels.get("app.kubernetes.io/component"), []).append(pod)
    assert len(by_component["api"]) == 2 and len(by_component["tctl"]) == 3, by_component.keys()
    for pod in by_component["api"] + by_component["tctl"]:
        assert all(c.ready for c in pod.status.container_statuses), pod.metadata.name
    assert "migrate" not in by_component  # hook-succeeded deletes the Job and its Pod
    print(f"\nchart install (--wait, images already on the node): {installed.install_s:.1f}s")
    health = requests.get(installed.base.replace(BASE, "/readyz"), headers={"Host": "localhost"}, timeout=10)
    assert health.json() == {"status": "ready"}


def test_tasks_through_the_api(installed: Installed) -> None:
    """Create, list, cancel; one task runs in a restricted Pod to COMPLETE with its input, stdout and output."""
    s, base = installed.session, installed.base
    name = f"out-{time.time_ns()}"
    output_url = f"http://{NODE_IP}:{installed.http_relay.port}/{name}/out.txt"
    done_id = s.post(f"{base}/tasks", json={
        "name": "restricted-complete",
        "inputs": [{"path": "/data/in.txt", "content": "hello from the chart\n"}],
        "outputs": [{"path": "/data/out/result.txt", "url": output_url}],
        "executors": [{"image": BUSYBOX, "command": ["sh", "-c", "id -u; cat /data/in.txt | tee /data/out/result.txt"]}],
    }, timeout=30).json()["id"]
    sleeper = s.post(f"{base}/tasks", json={"name": "sleeper", "executors": [
        {"image": BUSYBOX, "command": ["sleep", "300"]}]}, timeout=30).json()["id"]
    listed = s.get(f"{base}/tasks", params={"name_prefix": "restricted"}, timeout=30).json()["tasks"]
    assert [t["id"] for t in listed] == [done_id]
    installed.wait(sleeper, until=lambda t: t["state"] == "RUNNING")
    assert s.post(f"{base}/tasks/{sleeper}:cancel", timeout=30).status_code == 200
    assert installed.wait(sleeper, timeout=60)["state"] == "CANCELED"
    task = installed.wait(done_id)
    assert task["state"] == "COMPLETE", task
    [entry] = task["logs"][0]["logs"]
    assert entry["exit_code"] == 0 and entry["stdout"] == "10001\nhello from the chart\n", entry
    assert (installed.http.directory / name / "out.txt").read_text() == "hello from the chart\n"
    with psycopg.connect(installed.db_url) as conn:  # TRec ended it, with the task role's credential only
        assert conn.execute("SELECT ended_by FROM tasks WHERE id = %s", (done_id,)).fetchone() == ("trec",)
    assert task["logs"][0]["outputs"][0]["url"] == output_url
    metrics = requests.get(base.replace(BASE, "/metrics"), headers={"Host": "localhost"}, timeout=10).text
    assert sample(metrics, "poiesis_api_requests_total", operation="CreateTask", status="200") >= 1


def _handover(installed: Installed, *, grace: int | None, limit: float) -> str:
    """Delete the Lease holder's Pod; returns the new holder, another live TCtl Pod.

    The leader releases the Lease on exit, so whoever asks first takes it: usually a standby,
    but the Pod the ReplicaSet makes in its place may start and win the race (seen in CI).
    """
    coordination = k8s.CoordinationV1Api(installed.core.api_client)
    lease_name = f"{RELEASE}-poiesis-tctl"
    leader = coordination.read_namespaced_lease(lease_name, installed.namespace).spec.holder_identity
    names = {p.metadata.name for p in installed.tctl_pods()}
    assert leader in names
    installed.core.delete_namespaced_pod(leader, installed.namespace, grace_period_seconds=grace)
    deleted = time.monotonic()
    while True:
        holder = coordination.read_namespaced_lease(lease_name, installed.namespace).spec.holder_identity
        if holder and holder != leader:
            break
        assert time.monotonic() - deleted < limit, f"the Lease is still {holder!r} after {limit}s"
        time.sleep(0.2)
    print(f"\nTCtl handover, leader deleted with grace {grace}: {time.monotonic() - deleted:.1f}s (lease {LEASE_S}s)")
    live = {p.metadata.name for p in installed.tctl_pods()}
    assert holder in live - {leader}, (holder, live, names)
    return holder


def test_deleting_the_leader_hands_over_within_the_lease(installed: Installed) -> None:
    """Deleting the leader's Pod hands the Lease to a standby within the Lease duration, twice.

    Even a deletion with grace 0 reaches the container as SIGTERM (the kubelet keeps a short
    minimum grace), so both go through the release on exit; a leader that dies without it
    loses the Lease after the duration (tests/kube/test_cluster_tctl.py kills processes).
    """
    coordination = k8s.CoordinationV1Api(installed.core.api_client)
    leader = coordination.read_namespaced_lease(f"{RELEASE}-poiesis-tctl", installed.namespace).spec.holder_identity
    metrics = requests.get(f"http://{installed.pod_ip(leader)}:9090/metrics", timeout=10).text
    assert sample(metrics, "poiesis_tctl_leader") == 1
    print(f"\nTCtl memory (leader): {sample(metrics, 'process_resident_memory_bytes') / 2**20:.0f} MiB")
    api_metrics = requests.get(installed.base.replace(BASE, "/metrics"), headers={"Host": "localhost"}, timeout=10).text
    print(f"API memory: {sample(api_metrics, 'process_resident_memory_bytes') / 2**20:.0f} MiB")
    _handover(installed, grace=None, limit=LEASE_S)
    holder = _handover(installed, grace=0, limit=LEASE_S)
    deadline = time.monotonic() + 10
    while sample(requests.get(f"http://{installed.pod_ip(holder)}:9090/metrics", timeout=10).text,
                 "poiesis_tctl_leader") != 1:
        assert time.monotonic() < deadline
        time.sleep(0.5)
