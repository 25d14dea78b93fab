"""Tasks on the real control plane (KWOK node) with real PostgreSQL: TRec records, TCtl backs it up."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from kubernetes import client as k8s

from poiesis.kube import build
from poiesis.kube.backend import KubeBackend
from poiesis.kube.client import Kube
from tests.kube.helpers import create, ended_by, executor, exit_codes, full, terminal, when
from tests.plugins.kubetasks import task_pod, wait_for
from tests.tasks import tes_task


def _container_times(pod: dict[str, Any]) -> dict[str, tuple[str, str]]:
    statuses = pod["status"]["initContainerStatuses"] + pod["status"]["containerStatuses"]
    return {s["name"]: (s["state"]["terminated"]["startedAt"], s["state"]["terminated"]["finishedAt"])
            for s in statuses if "terminated" in s["state"]}


def test_task_runs_to_complete(tes, kube: Kube, submit_gated, start_trec, state_history, db_url) -> None:
    """QUEUED -> INITIALIZING -> RUNNING -> COMPLETE by TRec, times from the containers, Job/PVC/Secret owned and labelled."""
    task_id = submit_gated({"executors": [executor(run_ms=2500), executor()]})
    assert full(tes, task_id)["state"] == "QUEUED"
    start_trec(task_id)
    task = terminal(tes, task_id)
    assert task["state"] == "COMPLETE"
    assert state_history(task_id) == [("QUEUED", "INITIALIZING"), ("INITIALIZING", "RUNNING"), ("RUNNING", "COMPLETE")]
    assert exit_codes(task) == [0, 0]
    logs = task["logs"][0]["logs"]
    assert all(log["start_time"] <= log["end_time"] for log in logs)
    assert logs[0]["end_time"] <= logs[1]["start_time"]
    assert ended_by(db_url, task_id) == "trec"
    times = _container_times(task_pod(kube, task_id))
    for i, log in enumerate(logs):
        assert (when(log["start_time"]), when(log["end_time"])) == tuple(map(when, times[f"executor-{i}"]))
    task_log = task["logs"][0]
    assert when(task_log["start_time"]) == when(times["executor-0"][0])
    assert when(task_log["end_time"]) == when(times["tof"][1])
    name = build.job_name(task_id)
    job = kube.get_job(name)
    assert job["metadata"]["labels"][build.TASK_LABEL] == task_id and job["spec"]["suspend"] is False
    core = kube.core
    for obj in (core.read_namespaced_persistent_volume_claim(name, kube.namespace),
                core.read_namespaced_secret(name, kube.namespace)):
        assert obj.metadata.owner_references[0].uid == job["metadata"]["uid"]
        assert obj.metadata.labels[build.TASK_LABEL] == task_id
    assert task_pod(kube, task_id)["metadata"]["labels"][build.TASK_LABEL] == task_id


def test_outputs_and_redirected_stdout_reach_the_logs(tes, start_trec, tmp_path) -> None:
    """TRec records TOF's outputs.json as output file logs and the tail of a redirected stdout file.

    KWOK runs no filer or executor: the files they would leave on the task
    volume are written here, in the directory TRec reads as /transfer.
    """
    task_id = create(
        tes,
        executor(stdout="/out/stdout.txt", run_ms=1500),
        outputs=[{"url": "s3://bucket/result.txt", "path": "/out/result.txt"}],
    )
    transfer = tmp_path / "transfer"
    (transfer / "files" / "out").mkdir(parents=True)
    (transfer / "files" / "out" / "stdout.txt").write_text("x" * 5000 + "the end\n")
    (transfer / ".poiesis").mkdir()
    uploaded = [{"url": "s3://bucket/result.txt", "path": "/out/result.txt", "size_bytes": "42"}]
    (transfer / ".poiesis" / "outputs.json").write_text(json.dumps(uploaded))
    start_trec(task_id, transfer_dir=transfer)
    task = terminal(tes, task_id)
    assert task["state"] == "COMPLETE"
    assert task["logs"][0]["outputs"] == uploaded
    stdout = task["logs"][0]["logs"][0]["stdout"]
    assert stdout.endswith("the end\n") and len(stdout.encode()) == 2000  # POIESIS_KUBE_LOG_TAIL_BYTES in the plugin


def test_failing_executor_ends_executor_error(tes, start_trec) -> None:
    """A non-zero executor ends the task EXECUTOR_ERROR with its code and the local backend's line; later executors never run."""
    task_id = create(tes, executor(code=3), executor())
    start_trec(task_id)
    task = terminal(tes, task_id)
    assert task["state"] == "EXECUTOR_ERROR"
    assert exit_codes(task) == [3]
    assert task["logs"][0]["system_logs"] == ["executor #0 exited with code 3"]


def _when_executor_done(kube: Kube, task_id: str, index: int) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        pod = task_pod(kube, task_id)
        for s in (pod or {}).get("status", {}).get("initContainerStatuses") or []:
            if s["name"] == f"executor-{index + 1}" and "running" in s["state"]:
                return pod
        return None

    return wait_for(done, what=f"executor-{index} done and the next running")


def _kubelet_writes_message(kube: Kube, pod: dict[str, Any], container: str, message: str) -> None:
    """What a kubelet does with /dev/termination-log: copy it into the container's terminated state."""
    for _ in range(10):
        pod = kube.get_pod(pod["metadata"]["name"])
        for s in pod["status"]["initContainerStatuses"]:
            if s["name"] == container:
                s["state"]["terminated"]["message"] = message
        try:
            kube.core.replace_namespaced_pod_status(pod["metadata"]["name"], kube.namespace, pod)
            return
        except k8s.ApiException as exc:
            if exc.status != 409:
                raise
    raise AssertionError("could not write the termination message")


def test_ignore_error_goes_on_and_records_both_codes(tes, kube: Kube, start_trec) -> None:
    """ignore_error: the next executor runs, the task completes, and the real exit code 3 is recorded.

    KWOK runs no shell: the wrapper's effect (container exits 0, message
    poiesis-exit-code=3) is written into the Pod status as the kubelet would.
    """
    task_id = create(tes, executor(code=0, ignore_error=True), executor(run_ms=4000))
    pod = _when_executor_done(kube, task_id, 0)
    wrapped = next(c for c in pod["spec"]["initContainers"] if c["name"] == "executor-0")
    assert wrapped["command"][:2] == ["/bin/sh", "-c"]
    _kubelet_writes_message(kube, pod, "executor-0", "poiesis-exit-code=3\n")
    start_trec(task_id)
    task = terminal(tes, task_id)
    assert task["state"] == "COMPLETE"
    assert exit_codes(task) == [3, 0]


def _submit_with_filer_exit(task_store, kube_backend, kube_settings, *, filer: str, code: int) -> str:
    task = {"executors": [executor()]}
    task_id = task_store.create_task(tes_task(task))
    manifest = build.build_job(task_id, tes_task(task), kube_settings)
    spec = manifest["spec"]["template"]["spec"]
    container = next(c for c in spec["initContainers"] + spec["containers"] if c["name"] == filer)
    container["env"] = [{"name": "POIESIS_KWOK_EXIT_CODE", "value": str(code)}]
    kube_backend.create(task_id, tes_task(task), manifest)
    return task_id


@pytest.mark.parametrize(
    ("filer", "words"),
    [("tif", "input filer failed: exited with code 1"), ("tof", "output filer failed: exited with code 1")],
)
def test_failing_filer_ends_system_error(tes, task_store, kube_backend, kube_settings, start_trec, filer, words) -> None:
    """A failing TIF or TOF ends the task SYSTEM_ERROR with a system log naming it."""
    task_id = _submit_with_filer_exit(task_store, kube_backend, kube_settings, filer=filer, code=1)
    start_trec(task_id)
    task = terminal(tes, task_id)
    assert task["state"] == "SYSTEM_ERROR"
    assert any(words in line for line in task["logs"][0]["system_logs"])
    assert exit_codes(task) == ([] if filer == "tif" else [0])


def _all_gone(kube: Kube, task_id: str) -> bool:
    name = build.job_name(task_id)
    core = kube.core
    try:
        core.read_namespaced_persistent_volume_claim(name, kube.namespace)
        return False
    except k8s.ApiException as exc:
        assert exc.status == 404
    try:
        core.read_namespaced_secret(name, kube.namespace)
        return False
    except k8s.ApiException as exc:
        assert exc.status == 404
    return kube.get_job(name) is None and task_pod(kube, task_id) is None


def test_cancel_mid_run(tes, kube: Kube, start_trec) -> None:
    """Cancel while an executor runs: the task ends CANCELED and its Job, Pod, PVC and Secret are gone."""
    task_id = create(tes, executor(run_ms=60000))
    start_trec(task_id)
    wait_for(lambda: full(tes, task_id)["state"] == "RUNNING", what="RUNNING")
    assert tes.post(f"/tasks/{task_id}:cancel").status_code == 200
    task = terminal(tes, task_id)
    assert task["state"] == "CANCELED"
    wait_for(lambda: _all_gone(kube, task_id), timeout=60, what="Job, Pod, PVC and Secret gone")


def test_unschedulable_pod_ends_system_error_after_timeout(tes, kube: Kube, run_tctl) -> None:
    """A Pod that cannot be scheduled ends SYSTEM_ERROR with the reason after the pending timeout; the Job goes."""
    run_tctl()
    task_id = create(tes, executor(), resources={"backend_parameters": {"node_selector": "pool=nowhere"}})
    task = terminal(tes, task_id, timeout=30)
    assert task["state"] == "SYSTEM_ERROR"
    assert any("Unschedulable" in line and "waited more than 3s" in line for line in task["logs"][0]["system_logs"])
    wait_for(lambda: kube.get_job(build.job_name(task_id)) is None, what="Job deleted")


def test_pending_timeout_end_has_one_reason(tes, kube: Kube, run_tctl, start_trec, db_url) -> None:
    """TCtl ends a waiting task and deletes its Job; TRec then sees the Pod deleted but adds no contradicting line."""
    run_tctl()
    task_id = create(tes, executor(), resources={"backend_parameters": {"node_selector": "pool=nowhere"}})
    trec = start_trec(task_id)
    terminal(tes, task_id, timeout=30)
    assert trec.proc.wait(timeout=40) == 0  # the Pod went, the plugin's kubelet sent SIGTERM, TRec recorded and left
    task = full(tes, task_id)
    assert task["state"] == "SYSTEM_ERROR" and ended_by(db_url, task_id) == "tctl"
    (line,) = task["logs"][0]["system_logs"]
    assert line.startswith("the task's Pod waited more than 3s and was stopped: Unschedulable")


@pytest.mark.parametrize(
    ("parameter", "refusal"),
    [("priority_class", "no PriorityClass with name no-such-class was found"),
     ("runtime_class", 'RuntimeClass "no-such-class" not found')],
)
def test_a_refused_pod_ends_the_task_at_once_with_the_reason(tes, kube: Kube, run_tctl, db_url, parameter, refusal) -> None:
    """A nonexistent PriorityClass or RuntimeClass: admission refuses the Pod; TCtl ends the task long before the pending timeout."""
    run_tctl(pending_timeout_s=120, queued_grace_s=120)
    task_id = create(tes, executor(), resources={"backend_parameters": {parameter: "no-such-class"}})
    task = terminal(tes, task_id, timeout=30)
    assert task["state"] == "SYSTEM_ERROR" and ended_by(db_url, task_id) == "tctl"
    (line,) = task["logs"][0]["system_logs"]
    assert line.startswith("the task's Job could not create its Pod:"), line
    assert refusal in line, line
    wait_for(lambda: kube.get_job(build.job_name(task_id)) is None, what="Job deleted")


def _executor_running(kube: Kube, task_id: str) -> bool:
    pod = task_pod(kube, task_id) or {}
    statuses = (pod.get("status") or {}).get("initContainerStatuses") or []
    return any(s["name"] == "executor-0" and (s.get("state") or {}).get("running") for s in statuses)


def test_tctl_alone_ends_every_task(tes, task_store, kube: Kube, kube_backend, kube_settings, run_tctl) -> None:
    """With no TRec, TCtl brings every kind of task to the right terminal state, including a never-submitted one."""
    run_tctl()
    expected = {
        create(tes, executor(), executor()): ("COMPLETE", [0, 0]),
        create(tes, executor(code=2), executor()): ("EXECUTOR_ERROR", [2]),
        _submit_with_filer_exit(task_store, kube_backend, kube_settings, filer="tif", code=1): ("SYSTEM_ERROR", []),
        _submit_with_filer_exit(task_store, kube_backend, kube_settings, filer="tof", code=1): ("SYSTEM_ERROR", [0]),
        task_store.create_task(tes_task({"executors": [executor()]})): ("COMPLETE", [0]),  # QUEUED, never submitted
    }
    cancelled = create(tes, executor(run_ms=60000))
    vanished = create(tes, executor(run_ms=60000))
    # KWOK shows the trec sidecar running, so TCtl leaves these live Pods to TRec (there is none):
    # wait for the executors to run in Kubernetes, not for a RUNNING only TRec would write
    wait_for(lambda: _executor_running(kube, cancelled) and _executor_running(kube, vanished),
             what="both executors running")
    tes.post(f"/tasks/{cancelled}:cancel")
    kube.delete_job(build.job_name(vanished))  # not a cancel: the Job disappears under a running task
    expected[cancelled] = ("CANCELED", None)
    expected[vanished] = ("SYSTEM_ERROR", None)
    for task_id, (state, codes) in expected.items():
        task = terminal(tes, task_id)
        assert task["state"] == state, (task_id, task)
        if codes is not None:
            assert exit_codes(task) == codes
    assert any("deleted" in line for line in full(tes, vanished)["logs"][0]["system_logs"])


def test_service_info_and_unsupported_backend_parameters(tes, kube: Kube, kube_settings) -> None:
    """service-info lists the supported keys; an unsupported key is dropped with a warning; make_backend picks kubernetes."""
    from poiesis.compose import make_backend
    from poiesis.config import Settings

    info = tes.get("/service-info").json()
    # the plugin's settings allow each of them (tests/plugins/kubetasks.py)
    assert info["tesResources_backend_parameters"] == [
        "active_deadline_seconds", "node_selector", "priority_class", "runtime_class"]
    # no shared volume: file:// cannot work, so storage has no file entry at all
    assert not [s for s in info["storage"] if s.startswith("file")] and "s3://" in info["storage"]
    shared = KubeBackend(dataclasses.replace(kube_settings, shared_host_path="/srv/shared"), kube)
    assert shared.storage[0] == "file:///srv/shared/" and shared.file_roots == ("/srv/shared",)
    task_id = create(tes, executor(), resources={"backend_parameters": {"gpu_kind": "x", "priority_class": "p"}})
    task = full(tes, task_id)
    assert any("gpu_kind" in line for line in task["logs"][0]["system_logs"])
    spec = kube.get_job(build.job_name(task_id))["spec"]["template"]["spec"]
    assert spec["priorityClassName"] == "p"
    settings = Settings.from_env({"POIESIS_BACKEND": "kubernetes", "POIESIS_KUBE_KUBECONFIG": kube_settings.kubeconfig})
    assert make_backend(settings).name == "kubernetes"


def test_a_tes_1_2_task_asks_for_fractional_cores_in_its_pod(serve_app, kube_backend, kube: Kube) -> None:
    """On a 1.2 server, cpu_cores 0.5 is a 500m CPU request of the Pod's executor; 0.1 GiB of RAM 107374183 bytes."""
    tes = serve_app(backend=kube_backend, tes_version="1.2")
    assert tes.get("/service-info").json()["type"]["version"] == "1.2.0"
    task_id = create(tes, executor(), resources={"cpu_cores": 0.5, "ram_gb": 0.1, "disk_gb": 0.5})
    assert full(tes, task_id)["resources"] == {"cpu_cores": 0.5, "ram_gb": 0.1, "disk_gb": 0.5}
    pod = wait_for(lambda: task_pod(kube, task_id), timeout=60, what=f"the Pod of task {task_id}")
    executors = [c for c in pod["spec"]["initContainers"] if c["name"].startswith("executor-")]
    assert [c["resources"] for c in executors] == [
        {"requests": {"cpu": "500m", "memory": "107374183"}, "limits": {"memory": "107374183"}}]
    pvc = kube.core.read_namespaced_persistent_volume_claim(build.job_name(task_id), kube.namespace)
    assert pvc.spec.resources.requests["storage"] == str(2**29)


def test_the_time_limit_reaches_the_pod_the_job_controller_makes(tes, kube: Kube) -> None:
    """active_deadline_seconds through the API: the Pod the Job controller made carries it as activeDeadlineSeconds
    (the kubelet enforces it and says DeadlineExceeded); the Job has no deadline of its own."""
    task_id = create(tes, executor(run_ms=60_000), resources={"backend_parameters": {"active_deadline_seconds": "45"}})
    wait_for(lambda: task_pod(kube, task_id) is not None, what="the task's Pod")
    assert task_pod(kube, task_id)["spec"]["activeDeadlineSeconds"] == 45
    assert "activeDeadlineSeconds" not in kube.get_job(build.job_name(task_id))["spec"]
    assert tes.post("/tasks", json={"executors": [executor()], "resources": {
        "backend_parameters": {"active_deadline_seconds": "later"}}}).status_code == 400
