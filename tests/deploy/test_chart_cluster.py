"""The chart against the test cluster's API server (the KWOK node is enough): admission and authorization.

A server-side dry run, then a real install without waiting (KWOK runs no container) into a
namespace that enforces Pod Security restricted: the ReplicaSets' Pods are admitted, a task
Pod built with the default settings is admitted, a Pod that escalates privileges is not, and
each component's ServiceAccount may do its work and nothing outside it (SubjectAccessReview
with the admin credentials).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client as k8s

from poiesis.config.kube import KubeSettings
from poiesis.kube import build
from tests.plugins.helm import CHART, Helm
from tests.plugins.kube import Cluster
from tests.plugins.realnode import _delete_namespace
from tests.tasks import tes_task

RELEASE = "tes"
VALUES = ["--set", "database.url=postgresql://poiesis:pw@db.invalid/poiesis", "--set", "auth.basic.passwords=alice:x",
          "--set", "database.taskUrl=postgresql://poiesis_task:tpw@db.invalid/poiesis", "--set", "migrations.enabled=false"]


@pytest.fixture(scope="module")
def restricted(kube_cluster: Cluster, helm: Helm) -> Iterator[tuple[str, k8s.CoreV1Api]]:
    """A namespace enforcing restricted with the chart installed (not waited for); yields (namespace, core API)."""
    core = k8s.CoreV1Api(kube_cluster.api)
    namespace = f"chart-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": namespace, "labels": {
        "pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/warn": "restricted"}}})
    common = ["--kubeconfig", str(kube_cluster.kubeconfig), "-n", namespace, *VALUES]
    try:
        dry = helm.run("install", RELEASE, str(CHART), *common, "--dry-run=server")
        assert "kind: Deployment" in dry.stdout and "violate" not in dry.stderr, dry.stderr
        installed = helm.run("install", RELEASE, str(CHART), *common)
        assert "violate" not in installed.stderr, installed.stderr
        yield namespace, core
    finally:
        helm.run("uninstall", RELEASE, "--kubeconfig", str(kube_cluster.kubeconfig), "-n", namespace, check=False)
        _delete_namespace(core, namespace)


def test_the_chart_pods_are_admitted_under_restricted(restricted) -> None:
    """Both Deployments get all their Pods past Pod Security admission; no ReplicaSet reports FailedCreate."""
    namespace, core = restricted
    deadline = time.monotonic() + 60
    while True:
        pods = core.list_namespaced_pod(namespace, label_selector=f"app.kubernetes.io/instance={RELEASE}").items
        components = sorted(p.metadata.labels["app.kubernetes.io/component"] for p in pods)
        if components == ["api", "api", "tctl", "tctl", "tctl"]:
            break
        assert time.monotonic() < deadline, components
        time.sleep(0.5)
    time.sleep(1)  # they stay: a Deployment's Pods are not replaced (KWOK ends only restartPolicy != Always)
    again = core.list_namespaced_pod(namespace, label_selector=f"app.kubernetes.io/instance={RELEASE}").items
    assert {p.metadata.name for p in again} == {p.metadata.name for p in pods}
    assert {p.status.phase for p in again} <= {"Pending", "Running"}, [p.status.phase for p in again]
    events = core.list_namespaced_event(namespace, field_selector="reason=FailedCreate").items
    assert events == [], [e.message for e in events]


def test_a_default_task_pod_is_admitted_and_an_escalating_one_refused(restricted) -> None:
    """The Pod the backend builds with default settings passes restricted admission (server dry run)."""
    namespace, core = restricted
    cfg = KubeSettings(namespace=namespace, image="poiesis:test", transfer_volume="emptyDir")
    task = {"inputs": [{"path": "/data/in.txt", "content": "x"}], "outputs": [{"path": "/data/out/o", "url": "s3://b/o"}],
            "executors": [{"image": "busybox", "command": ["cp", "/data/in.txt", "/data/out/o"], "stdout": "/data/out/log"}]}
    spec = build.build_pod_spec("t1", tes_task(task), cfg)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "task-t1", "labels": build.labels("t1", cfg)},
           "spec": spec}
    core.create_namespaced_pod(namespace, pod, dry_run="All")
    spec["initContainers"][2]["securityContext"] = {"allowPrivilegeEscalation": True}
    with pytest.raises(k8s.ApiException) as refused:
        core.create_namespaced_pod(namespace, pod, dry_run="All")
    assert refused.value.status == 403 and "violates PodSecurity" in refused.value.body


def _allowed(core: k8s.CoreV1Api, namespace: str, account: str, verb: str, resource: str, group: str) -> bool:
    review = k8s.AuthorizationV1Api(core.api_client).create_subject_access_review({
        "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {"user": f"system:serviceaccount:{namespace}:{account}",
                 "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"],
                 "resourceAttributes": {"namespace": namespace, "verb": verb, "group": group, "resource": resource}},
    })
    return bool(review.status.allowed)


@pytest.mark.parametrize(("component", "allowed", "refused"), [
    ("api", [("create", "jobs", "batch"), ("patch", "jobs", "batch"), ("deletecollection", "pods", ""),
             ("create", "secrets", ""), ("create", "persistentvolumeclaims", "")],
     [("get", "secrets", ""), ("create", "pods", ""), ("update", "leases", "coordination.k8s.io"),
      ("list", "jobs", "batch")]),
    ("tctl", [("watch", "pods", ""), ("list", "events", ""), ("update", "leases", "coordination.k8s.io"),
              ("delete", "jobs", "batch")],
     [("delete", "pods", ""), ("get", "secrets", ""), ("delete", "leases", "coordination.k8s.io"),
      ("create", "pods", "")]),
    ("trec", [("get", "pods", ""), ("watch", "pods", "")],
     [("create", "jobs", "batch"), ("list", "secrets", ""), ("patch", "pods", ""), ("delete", "pods", "")]),
])
def test_service_accounts_get_their_work_and_nothing_more(restricted, component: str, allowed: list,
                                                          refused: list) -> None:
    """A SubjectAccessReview per verb: each ServiceAccount may do its work and no write outside it."""
    namespace, core = restricted
    account = f"{RELEASE}-poiesis-{component}"
    for verb, resource, group in allowed:
        assert _allowed(core, namespace, account, verb, resource, group), (component, verb, resource)
    for verb, resource, group in refused:
        assert not _allowed(core, namespace, account, verb, resource, group), (component, verb, resource)
