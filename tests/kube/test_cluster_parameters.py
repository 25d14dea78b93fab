"""backend_parameters that reach the Pod spec, on the real API server: only what the operator allows (issue 21, finding 7)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client as k8s

from poiesis.kube.backend import KubeBackend
from poiesis.kube.client import Kube
from tests.kube.helpers import create, executor
from tests.plugins.kubetasks import task_pod, wait_for
from tests.tasks import HOSTILE_PARAMETERS


def _landed(kube: Kube) -> list[tuple]:
    """What each Job in the namespace carries of the parameters."""
    return [(j["spec"].get("activeDeadlineSeconds"), {k: v for k, v in j["spec"]["template"]["spec"].items()
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
    """An allowed priority class, runtime class and node selector reach the Pod the Job makes; the deadline the Job."""
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
