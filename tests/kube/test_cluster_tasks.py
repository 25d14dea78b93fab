"""Tasks on the real control plane (KWOK node) with real PostgreSQL: TRec records, TCtl backs it up."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client as k8s
from starlette.testclient import TestClient

from poiesis import store
from poiesis.api.app import create_app
from poiesis.api.context import Context
from poiesis.kube import build
from poiesis.kube.backend import KubeBackend
from poiesis.kube.client import Kube
from tests.plugins.kubetasks import task_pod, wait_for

BASE = "/ga4gh/tes/v1"


def executor(code: int = 0, run_ms: int = 100, **extra: Any) -> dict[str, Any]:
    """A TES executor whose simulated run (KWOK) lasts run_ms and exits with code."""
    return {
        "image": "alpine:3",
        "command": ["sh", "-c", "true"],
        "env": {"POIESIS_KWOK_EXIT_CODE": str(code), "POIESIS_KWOK_RUN_MS": str(run_ms)},
        **extra,
    }


@pytest.fixture
def tes(task_store: store.Store, kube_backend: KubeBackend) -> TestClient:
    """The TES API in-process, with the Kubernetes backend on the test namespace."""
    return TestClient(create_app(Context(store=task_store, backend=kube_backend)), base_url=f"http://127.0.0.1{BASE}")


def create(tes: TestClient, *executors: dict[str, Any], **fields: Any) -> str:
    resp = tes.post("/tasks", json={"executors": list(executors), **fields})
    assert resp.status_code == 200, resp.text
    return resp.json()["id"]


def full(tes: TestClient, task_id: str) -> dict[str, Any]:
    return tes.get(f"/tasks/{task_id}", params={"view": "FULL"}).json()


def terminal(tes: TestClient, task_id: str, *, timeout: float = 40) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        task = full(tes, task_id)
        return task if task["state"] in {"COMPLETE", "EXECUTOR_ERROR", "SYSTEM_ERROR", "CANCELED", "PREEMPTED"} else None

    return wait_for(done, timeout=timeout, what=f"task {task_id} to end")


def exit_codes(task: dict[str, Any]) -> list[int]:
    return [log["exit_code"] for log in task["logs"][0]["logs"]]


def test_task_runs_to_complete(tes, kube: Kube, start_trec, state_history) -> None:
    """QUEUED -> INITIALIZING -> RUNNING -> COMPLETE, one executor log per executor, Job/PVC/Secret owned and labelled."""
    task_id = create(tes, executor(run_ms=2500), executor())
    assert full(tes, task_id)["state"] == "QUEUED"
    start_trec(task_id)
    task = terminal(tes, task_id)
    assert task["state"] == "COMPLETE"
    assert state_history(task_id) == [("QUEUED", "INITIALIZING"), ("INITIALIZING", "RUNNING"), ("RUNNING", "COMPLETE")]
    assert exit_codes(task) == [0, 0]
    logs = task["logs"][0]["logs"]
    assert all(log["start_time"] <= log["end_time"] for log in logs)
    assert logs[0]["end_time"] <= logs[1]["start_time"]
    name = build.job_name(task_id)
    job = kube.get_job(name)
    assert job["metadata"]["labels"][build.TASK_LABEL] == task_id and job["spec"]["suspend"] is False
    core = kube.core
    for obj in (core.read_namespaced_persistent_volume_claim(name, kube.namespace),
                core.read_namespaced_secret(name, kube.namespace)):
        assert obj.metadata.owner_references[0].uid == job["metadata"]["uid"]
        assert obj.metadata.labels[build.TASK_LABEL] == task_id
    assert task_pod(kube, task_id)["metadata"]["labels"][build.TASK_LABEL] == task_id


def test_failing_executor_ends_executor_error(tes, start_trec) -> None:
    """A non-zero executor ends the task EXECUTOR_ERROR with its code; later executors never run."""
    task_id = create(tes, executor(code=3), executor())
    start_trec(task_id)
    task = terminal(tes, task_id)
    assert task["state"] == "EXECUTOR_ERROR"
    assert exit_codes(task) == [3]
