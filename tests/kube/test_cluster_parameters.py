"""backend_parameters that reach the Pod spec, on the real API server: only what the operator allows (issue 21, finding 7)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client as k8s

from poiesis.kube import build
from poiesis.kube.backend import KubeBackend
from poiesis.kube.client import Kube
from tests.kube.helpers import create, executor, terminal
from tests.plugins.kubetasks import task_pod, wait_for
from tests.tasks import HOSTILE_PARAMETERS


def _landed(kube: Kube) -> list[tuple]:
    """What each Job in the namespace carries of the parameters."""
    return [(j["spec"]["template"]["spec"].get("activeDeadlineSeconds"), {k: v for k, v in j["spec"]["template"]["spec"].items()
             if k in ("priorityClassName", "runtimeClassName", "nodeSelector")}) for j in kube.list_jobs()]


@pytest.mark.parametrize(("params", "setting"), HOSTILE_PARAMETERS, ids=[s for _, s in HOSTILE_PARAMETERS])
def test_a_refused_parameter_never_creates_a_job(tes, kube: Kube, params, setting) -> None:
    """The attack: a priority class, runtime class, node selector or deadline the operator did not allow: 400, no Job."""
    resp = tes.post("/tasks", json={"executors": [executor()], "resources": {"backend_parameters": params}})
    assert _landed(kube) == []
    assert resp.status_code == 400, resp.text
    (entry,) = resp.json()["backend_parameters"]
    assert (entry["parameter"], entry["setting"]) == (next(iter(params)).lower(), setting)


@pytest.fixture
def classes(kube_cluster) -> Iterator[tuple[str, str]]:
    """A PriorityClass and a RuntimeClass that exist on the cluster (cluster-scoped: removed afterwards)."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    scheduling, node = k8s.SchedulingV1Api(kube_cluster.api), k8s.NodeV1Api(kube_cluster.api)
    scheduling.create_priority_class({"metadata": {"name": name}, "value": 1000})
    node.create_runtime_class({"metadata": {"name": name}, "handler": "runc"})
    try:
        yield name, name
    finally:
        scheduling.delete_priority_class(name)
        node.delete_runtime_class(name)


def test_allowed_parameters_land_in_the_pod(serve_app, kube_settings, kube: Kube, classes) -> None:
    """An allowed priority class, runtime class, node selector and time limit reach the Pod the Job makes."""
    priority, runtime = classes
    settings = dataclasses.replace(kube_settings, allowed_priority_classes=(priority,),
                                   allowed_runtime_classes=(runtime,), allowed_node_selectors=("pool=batch",))
    tes = serve_app(backend=KubeBackend(settings, kube))
    task_id = create(tes, executor(), resources={"backend_parameters": {
        "priority_class": priority, "Runtime_Class": runtime, "node_selector": "pool=batch",
        "active_deadline_seconds": "600"}})
    pod = wait_for(lambda: task_pod(kube, task_id), what="the task's Pod")
    spec = pod["spec"]
    assert (spec["priorityClassName"], spec["runtimeClassName"], spec["nodeSelector"]) == (
        priority, runtime, {"pool": "batch"})
    assert spec["priority"] == 1000  # admitted under that class
    assert _landed(kube)[0][0] == 600


GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}


@pytest.fixture
def gpu_node(kube_cluster) -> Iterator[str]:
    """A KWOK node advertising two nvidia.com/gpu, labelled with a model and tainted as GPU nodes are; removed after."""
    core = k8s.CoreV1Api(kube_cluster.api)
    name = f"kwok-gpu-{uuid.uuid4().hex[:8]}"
    resources = {"cpu": "16", "memory": "64Gi", "pods": "32", "nvidia.com/gpu": "2"}
    core.create_node({
        "metadata": {"name": name, "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                     "labels": {"kubernetes.io/hostname": name, "type": "kwok", "gpu.example/model": name}},
        "spec": {"taints": [GPU_TAINT]},
        "status": {"capacity": resources, "allocatable": resources},
    })
    try:
        wait_for(lambda: any(c.type == "Ready" and c.status == "True"
                             for c in core.read_node(name).status.conditions or []), what="the GPU node Ready")
        yield name
    finally:
        core.delete_node(name)


@pytest.fixture
def gpu_tes(serve_app, kube_settings, kube: Kube, gpu_node: str):
    """The API over settings that allow up to 4 GPUs, the GPU node's model as gpu_type "test", its taint tolerated."""
    settings = dataclasses.replace(
        kube_settings, max_gpus=4, gpu_types={"test": {"gpu.example/model": gpu_node}},
        gpu_tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}])
    return serve_app(backend=KubeBackend(settings, kube))


def test_a_gpu_task_is_scheduled_on_the_gpu_node(gpu_tes, kube: Kube, gpu_node: str) -> None:
    """gpu=1, gpu_type=test: the executors' limit names the resource and the scheduler binds the Pod to the GPU node."""
    task_id = create(gpu_tes, executor(), resources={"backend_parameters": {"gpu": "1", "gpu_type": "test"}})
    pod = wait_for(lambda: (p := task_pod(kube, task_id)) and p["spec"].get("nodeName") and p, what="the Pod bound")
    assert pod["spec"]["nodeName"] == gpu_node
    (ex,) = [c for c in pod["spec"]["initContainers"] if c["name"] == "executor-0"]
    assert ex["resources"]["limits"]["nvidia.com/gpu"] == "1"


def test_more_gpus_than_any_node_has_ends_system_error_naming_the_resource(gpu_tes, kube: Kube, run_tctl) -> None:
    """gpu=3 where the biggest node has 2: unschedulable; TCtl's pending timeout ends it, the line names nvidia.com/gpu."""
    run_tctl()
    task_id = create(gpu_tes, executor(), resources={"backend_parameters": {"gpu": "3"}})
    task = terminal(gpu_tes, task_id, timeout=30)
    assert task["state"] == "SYSTEM_ERROR"
    (line,) = task["logs"][0]["system_logs"]
    assert line.startswith("the task's Pod waited more than 3s and was stopped: Unschedulable"), line
    assert "Insufficient nvidia.com/gpu" in line, line
    wait_for(lambda: kube.get_job(build.job_name(task_id)) is None, what="Job deleted")
