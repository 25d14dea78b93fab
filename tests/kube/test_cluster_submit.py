"""Submission off the request path, on the real control plane (KWOK node) with real PostgreSQL.

CreateTask answers once the task is stored; worker threads create the Job, then its Secret and PVC.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import watch as k8s_watch
from starlette.testclient import TestClient

from poiesis.config.kube import KubeSettings
from poiesis.kube import build
from poiesis.kube.backend import KubeBackend
from poiesis.kube.client import Kube, api_client
from tests.kube.helpers import create, ended_by, executor, full
from tests.plugins.kubetasks import wait_for
from tests.tasks import tes_task

TASK = {"executors": [executor()]}


@pytest.fixture
def async_backend(kube_settings: KubeSettings, kube: Kube, task_store) -> Iterator[KubeBackend]:
    """The backend as ``poiesis api`` runs it: a store, a queue, two submitting threads."""
    backend = KubeBackend(dataclasses.replace(kube_settings, submit_workers=2), kube, store=task_store)
    yield backend
    backend.close()


@pytest.fixture
def tes_async(serve_app, async_backend: KubeBackend) -> TestClient:
    return serve_app(backend=async_backend)


def _dependents(kube: Kube, task_id: str) -> list[Any]:
    name = build.job_name(task_id)
    return [kube.core.read_namespaced_secret(name, kube.namespace),
            kube.core.read_namespaced_persistent_volume_claim(name, kube.namespace)]


def test_created_task_returns_before_its_job_exists_and_the_job_follows(tes_async, async_backend, kube) -> None:
    """CreateTask answers QUEUED while the submission waits; the Job, then its owned Secret and PVC, appear after."""
    with async_backend.submitter.held():
        task_id = create(tes_async, executor())
        assert full(tes_async, task_id)["state"] == "QUEUED"
        assert kube.get_job(build.job_name(task_id)) is None
    assert async_backend.submitter.drain(30)
    job = kube.get_job(build.job_name(task_id))
    assert job is not None and not job["spec"].get("suspend")
    for obj in _dependents(kube, task_id):  # owned by the Job's uid: made after it
        assert obj.metadata.owner_references[0].uid == job["metadata"]["uid"]


def test_tasks_are_submitted_in_the_order_they_were_created(task_store, kube_settings, kube) -> None:
    """One worker takes the queue first in, first out: Jobs are created in CreateTask order."""
    backend = KubeBackend(dataclasses.replace(kube_settings, submit_workers=1), kube, store=task_store)
    batch = k8s.BatchV1Api(kube.api)
    since = batch.list_namespaced_job(kube.namespace).metadata.resource_version
    try:
        with backend.submitter.held():
            ids = [task_store.create_task(tes_task(TASK)) for _ in range(8)]
            for task_id in ids:
                backend.submit(task_id, tes_task(TASK))
        assert backend.submitter.drain(60)
    finally:
        backend.close()
    added = []
    for event in k8s_watch.Watch().stream(batch.list_namespaced_job, kube.namespace, resource_version=since,
                                          timeout_seconds=5):
        if event["type"] == "ADDED":
            added.append(event["object"].metadata.labels[build.TASK_LABEL])
        if len(added) == len(ids):
            break
    assert added == ids


def test_cancel_of_a_queued_submission_creates_nothing(tes_async, async_backend, kube, db_url) -> None:
    """A cancel while the submission still waits withdraws it: CANCELED at once, no Job ever."""
    with async_backend.submitter.held():
        task_id = create(tes_async, executor())
        assert tes_async.post(f"/tasks/{task_id}:cancel").status_code == 200
        assert full(tes_async, task_id)["state"] == "CANCELED"
    assert async_backend.submitter.drain(30)
    assert kube.get_job(build.job_name(task_id)) is None
    assert ended_by(db_url, task_id) == "api"


def test_cancel_racing_submissions_leaves_no_job(tes_async, async_backend, kube) -> None:
    """Cancels sent while submissions run: every task ends up without a live Job (never created, or deleted)."""
    ids = [create(tes_async, executor(run_ms=60_000)) for _ in range(12)]
    threads = [threading.Thread(target=tes_async.post, args=(f"/tasks/{t}:cancel",)) for t in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert async_backend.submitter.drain(60)

    def live_jobs() -> list[str]:
        jobs = kube.list_jobs(label_selector=build.TASK_LABEL)
        return [j["metadata"]["name"] for j in jobs if not j["metadata"].get("deletionTimestamp")]

    wait_for(lambda: not live_jobs(), timeout=30, what="no live Job")
    for task_id in ids:
        assert full(tes_async, task_id)["state"] in ("CANCELING", "CANCELED")


def _submit_once(backend: KubeBackend, task_store, task: dict[str, Any]) -> str:
    """Store ``task``, hand it to ``backend``'s submission threads, wait for them, close the backend."""
    try:
        task_id = task_store.create_task(tes_task(task))
        backend.submit(task_id, tes_task(task))
        assert backend.submitter.drain(30)
    finally:
        backend.close()
    return task_id


def test_unreachable_api_server_leaves_the_task_queued_for_the_sweep(
    task_store, kube_settings, kube, run_tctl, tmp_path
) -> None:
    """No answer from the API server: retried, then the task stays QUEUED; TCtl's sweep submits it."""
    config = k8s.Configuration()
    config.host = "https://127.0.0.1:9"  # nothing listens: connection refused
    dead = Kube(k8s.ApiClient(config), kube.namespace)
    task_id = _submit_once(KubeBackend(dataclasses.replace(kube_settings, submit_workers=1), dead, store=task_store),
                           task_store, TASK)
    assert task_store.get_state(task_id) == "QUEUED"
    run_tctl()
    wait_for(lambda: kube.get_job(build.job_name(task_id)), timeout=30, what="the Job from TCtl's sweep")


def test_refused_submission_ends_system_error_without_a_job(task_store, kube_settings, kube, db_url) -> None:
    """A Job the API server refuses (invalid) ends the task SYSTEM_ERROR with a reason; no Job stays."""
    settings = dataclasses.replace(kube_settings, submit_workers=2, allowed_runtime_classes=("Not A Name!",))
    task = {"executors": [executor()], "resources": {"backend_parameters": {"runtime_class": "Not A Name!"}}}
    task_id = _submit_once(KubeBackend(settings, kube, store=task_store), task_store, task)
    assert task_store.get_state(task_id) == "SYSTEM_ERROR"
    assert ended_by(db_url, task_id) == "api"
    assert kube.get_job(build.job_name(task_id)) is None


def test_a_stored_task_the_settings_now_refuse_never_gets_a_job(task_store, async_backend, kube) -> None:
    """Defence in depth: a task stored with a parameter the settings refuse (narrowed since) ends SYSTEM_ERROR naming it."""
    task = {"executors": [executor()], "resources": {"backend_parameters": {"priority_class": "system-node-critical"}}}
    task_id = task_store.create_task(tes_task(task))
    async_backend.submit(task_id, tes_task(task))
    assert async_backend.submitter.drain(30)
    assert task_store.get_state(task_id) == "SYSTEM_ERROR"
    (line,) = task_store.get_task(task_id, view="FULL")["logs"][0]["system_logs"]
    assert line.startswith("not run: resources.backend_parameters.priority_class: 'system-node-critical'"), line
    assert "POIESIS_KUBE_ALLOWED_PRIORITY_CLASSES" in line
    assert kube.list_jobs() == []


def test_sweep_completes_a_submission_that_died_after_the_job(task_store, kube_settings, kube, run_tctl) -> None:
    """A running Job without its Secret and PVC (the API died in between): TCtl makes them, owned by the Job."""
    task_id = task_store.create_task(tes_task(TASK))
    job = kube.create_job(build.build_job(task_id, tes_task(TASK), kube_settings, suspend=False))
    assert job["kind"] == "PartialObjectMetadata", "a create asks only for the new object's metadata back"
    run_tctl()
    wait_for(lambda: _exists(kube, task_id), timeout=30, what="the Secret and PVC from TCtl's sweep")
    for obj in _dependents(kube, task_id):
        assert obj.metadata.owner_references[0].uid == job["metadata"]["uid"]


def _exists(kube: Kube, task_id: str) -> bool:
    try:
        _dependents(kube, task_id)
    except k8s.ApiException:
        return False
    return True


def test_api_client_pool_holds_the_submitting_threads(kubeconfig) -> None:
    """The client keeps as many connections as asked, so concurrent submissions reuse them."""
    assert api_client(str(kubeconfig), connections=40).configuration.connection_pool_maxsize == 40
