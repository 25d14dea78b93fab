"""The test cluster behaves like Kubernetes where Poiesis depends on it.

Real kube-apiserver, controller manager (Job controller, garbage collector, PV
binder with the hostPath provisioner) and scheduler; KWOK plays the kubelet with
the stages in cluster/kwok/stages.yaml.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from tests.plugins.kube import Cluster, compact_etcd

TIMEOUT_S = 60
INIT_ORDER = ["trec", "tif", "exec-0", "exec-1"]


def kwok_env(*, exit_code: int = 0, run_ms: int = 100) -> list[dict]:
    return [
        {"name": "POIESIS_KWOK_EXIT_CODE", "value": str(exit_code)},
        {"name": "POIESIS_KWOK_RUN_MS", "value": str(run_ms)},
    ]


def task_container(name: str, *, env: list[dict], sidecar: bool = False) -> dict:
    container = {
        "name": name,
        "image": "poiesis.invalid/poiesis:test",
        "imagePullPolicy": "IfNotPresent",
        "command": ["poiesis", name],
        "env": env,
        "volumeMounts": [{"name": "transfer", "mountPath": "/transfer"}],
    }
    if sidecar:
        container["restartPolicy"] = "Always"
    return container


def task_job(name: str, *, exec_env: list[list[dict]]) -> dict:
    """A Job shaped like a Poiesis task: trec sidecar, tif, executors, tof main container."""
    init = [task_container("trec", env=kwok_env(), sidecar=True), task_container("tif", env=kwok_env())]
    init += [task_container(f"exec-{i}", env=env) for i, env in enumerate(exec_env)]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": {"poiesis.io/task": name}},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": {"poiesis.io/task": name}},
                "spec": {
                    "restartPolicy": "Never",
                    "initContainers": init,
                    "containers": [task_container("tof", env=kwok_env())],
                    "volumes": [{"name": "transfer", "persistentVolumeClaim": {"claimName": name}}],
                },
            },
        },
    }


def owned_pvc(name: str, *, job: client.V1Job) -> dict:
    owner = {"apiVersion": "batch/v1", "kind": "Job", "name": job.metadata.name,
             "uid": job.metadata.uid, "controller": True, "blockOwnerDeletion": True}
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "ownerReferences": [owner], "labels": {"poiesis.io/task": name}},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }


def wait_until(what: str, check: Callable[[], object], *, timeout: float = TIMEOUT_S) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Task:
    """One submitted task Job with its PVC, and every Pod status the watch saw."""

    def __init__(self, cluster: Cluster, *, exec_env: list[list[dict]]) -> None:
        self.ns = cluster.namespace
        self.name = f"t-{uuid.uuid4().hex[:10]}"
        self.core = client.CoreV1Api(cluster.api)
        self.batch = client.BatchV1Api(cluster.api)
        self.job = self.batch.create_namespaced_job(self.ns, task_job(self.name, exec_env=exec_env))
        self.core.create_namespaced_persistent_volume_claim(self.ns, owned_pvc(self.name, job=self.job))

    def pod_history(self, *, until: Callable[[client.V1Pod], bool]) -> list[client.V1Pod]:
        """Watch the task's Pod from its creation until UNTIL holds; every version seen, in order."""
        seen: list[client.V1Pod] = []
        selector = f"poiesis.io/task={self.name}"
        w = watch.Watch()
        deadline = time.monotonic() + TIMEOUT_S
        rv = self.job.metadata.resource_version  # every Pod change after the Job was created
        while time.monotonic() < deadline:
            kwargs = {"label_selector": selector, "timeout_seconds": 10, "resource_version": rv}
            for event in w.stream(self.core.list_namespaced_pod, self.ns, **kwargs):
                pod = event["object"]
                rv = pod.metadata.resource_version
                seen.append(pod)
                if until(pod):
                    w.stop()
                    return seen
        raise AssertionError(f"pod of {self.name} never reached the expected state; last: {seen[-1:]}")

    def job_condition(self, kind: str) -> bool:
        job = self.batch.read_namespaced_job_status(self.name, self.ns)
        return any(c.type == kind and c.status == "True" for c in job.status.conditions or [])

    def delete_background(self) -> None:
        self.batch.delete_namespaced_job(self.name, self.ns, propagation_policy="Background")

    def gone(self) -> bool:
        pods = self.core.list_namespaced_pod(self.ns, label_selector=f"poiesis.io/task={self.name}").items
        try:
            self.core.read_namespaced_persistent_volume_claim(self.name, self.ns)
        except ApiException as err:
            return err.status == 404 and not pods
        return False


@pytest.fixture
def submit(kube_cluster: Cluster) -> Iterator[Callable[..., Task]]:
    tasks: list[Task] = []

    def make(*, exec_env: list[list[dict]]) -> Task:
        tasks.append(Task(kube_cluster, exec_env=exec_env))
        return tasks[-1]

    yield make
    for task in tasks:
        try:
            task.delete_background()
        except ApiException as err:
            if err.status != 404:
                raise


def state_of(pod: client.V1Pod, name: str) -> str:
    """'waiting', 'running' or 'terminated' for container NAME in this Pod version."""
    statuses = (pod.status.init_container_statuses or []) + (pod.status.container_statuses or [])
    for status in statuses:
        if status.name == name and status.state:
            for kind in ("running", "terminated", "waiting"):
                if getattr(status.state, kind):
                    return kind
    return "absent"


def first_index(history: list[client.V1Pod], name: str, state: str) -> int:
    return next(i for i, pod in enumerate(history) if state_of(pod, name) == state)


def terminated(pod: client.V1Pod, name: str) -> client.V1ContainerStateTerminated:
    statuses = (pod.status.init_container_statuses or []) + (pod.status.container_statuses or [])
    return next(s.state.terminated for s in statuses if s.name == name)


def is_terminal(pod: client.V1Pod) -> bool:
    return pod.status.phase in ("Succeeded", "Failed")


def test_job_pod_runs_sidecar_inits_and_main_to_succeeded(submit, kube_cluster: Cluster) -> None:
    """The Job controller's Pod is scheduled and runs sidecar, inits in order, then tof, to Succeeded."""
    task = submit(exec_env=[kwok_env(), kwok_env()])
    history = task.pod_history(until=is_terminal)
    final = history[-1]

    assert final.status.phase == "Succeeded"
    assert final.metadata.owner_references[0].kind == "Job"
    assert final.metadata.owner_references[0].uid == task.job.metadata.uid
    assert final.spec.node_name == kube_cluster.node
    assert any(c.type == "PodScheduled" and c.status == "True" for c in final.status.conditions)
    starts = [first_index(history, name, "running") for name in [*INIT_ORDER, "tof"]]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    for before, after in zip(INIT_ORDER[1:], [*INIT_ORDER[2:], "tof"], strict=True):
        assert first_index(history, before, "terminated") <= first_index(history, after, "running")
    for pod in history:
        if any(state_of(pod, name) == "running" for name in [*INIT_ORDER[1:], "tof"]):
            assert state_of(pod, "trec") == "running"
    for name in [*INIT_ORDER, "tof"]:
        end = terminated(final, name)
        assert end.exit_code == 0 and end.started_at is not None and end.finished_at >= end.started_at
    assert first_index(history, "tof", "terminated") < first_index(history, "trec", "terminated")
    pvc = task.core.read_namespaced_persistent_volume_claim(task.name, task.ns)
    assert pvc.status.phase == "Bound"
    assert pvc.metadata.owner_references[0].uid == task.job.metadata.uid
    wait_until("the Job to complete", lambda: task.job_condition("Complete"))


def test_failing_init_container_fails_pod_with_its_exit_code(submit) -> None:
    """An executor told to exit 3 fails the Pod with exit code 3; later containers never start."""
    task = submit(exec_env=[kwok_env(exit_code=3), kwok_env()])
    history = task.pod_history(until=is_terminal)
    final = history[-1]

    assert final.status.phase == "Failed"
    failed = terminated(final, "exec-0")
    assert (failed.exit_code, failed.reason) == (3, "Error")
    assert state_of(final, "exec-1") == "waiting" and state_of(final, "tof") == "waiting"
    assert all(state_of(pod, "exec-1") != "running" for pod in history)
    assert state_of(final, "trec") == "terminated"
    wait_until("the Job to fail", lambda: task.job_condition("Failed"))


def test_background_delete_of_job_removes_pod_and_pvc(submit) -> None:
    """Deleting a finished Job with Background propagation removes its Pod and its PVC."""
    task = submit(exec_env=[kwok_env()])
    task.pod_history(until=is_terminal)
    task.delete_background()
    wait_until("the Pod and PVC to be garbage collected", task.gone)


def test_background_delete_of_running_job_stops_and_removes_pod(submit) -> None:
    """Deleting a Job whose executor still runs ends the Pod and removes it and the PVC."""
    task = submit(exec_env=[kwok_env(run_ms=120_000)])
    task.pod_history(until=lambda pod: state_of(pod, "exec-0") == "running")
    task.delete_background()
    wait_until("the Pod and PVC to be garbage collected", task.gone)


def pod_template(name: str) -> dict:
    container = {"name": "c", "image": "poiesis.invalid/poiesis:test"}
    return {"metadata": {"name": name}, "template": {"spec": {"containers": [container]}}}


def test_watch_from_compacted_resource_version_gets_410_then_relist_works(kube_cluster: Cluster) -> None:
    """A watch resumed from a compacted resourceVersion gets 410 Gone; a relist and a new watch recover."""
    core = client.CoreV1Api(kube_cluster.api)
    ns = kube_cluster.namespace
    names = [f"pt-{uuid.uuid4().hex[:10]}" for _ in range(2)]
    old_rv = core.list_namespaced_pod_template(ns).metadata.resource_version
    core.create_namespaced_pod_template(ns, pod_template(names[0]))
    try:
        core.patch_namespaced_pod_template(names[0], ns, {"metadata": {"labels": {"changed": "yes"}}})
        # A watch from old_rv needs revision old_rv + 1 onwards; compaction keeps only >= the given one.
        assert compact_etcd(kube_cluster) > int(old_rv) + 1
        with pytest.raises(ApiException) as gone:
            for _ in watch.Watch().stream(core.list_namespaced_pod_template, ns, resource_version=old_rv,
                                          timeout_seconds=5):
                pass
        assert gone.value.status == 410

        relisted = core.list_namespaced_pod_template(ns)
        assert names[0] in {item.metadata.name for item in relisted.items}
        core.create_namespaced_pod_template(ns, pod_template(names[1]))
        w = watch.Watch()
        seen = []
        for event in w.stream(core.list_namespaced_pod_template, ns,
                              resource_version=relisted.metadata.resource_version, timeout_seconds=10):
            seen.append((event["type"], event["object"].metadata.name))
            if event["object"].metadata.name == names[1]:
                w.stop()
        assert seen == [("ADDED", names[1])]
    finally:
        for name in names:
            with contextlib.suppress(ApiException):
                core.delete_namespaced_pod_template(name, ns)
