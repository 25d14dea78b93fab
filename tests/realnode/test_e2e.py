"""End to end on a real kubelet + containerd node, through the TES API only.

Every task here runs as a real Pod: TRec as a native sidecar, the filers and the executors in
containers of images built on this machine. The only look behind the API is at what the task
left in Kubernetes (nothing, once it ended) and which component wrote its terminal state.
"""

from __future__ import annotations

import subprocess
import time
from datetime import datetime

import pytest

from tests.plugins.realnode import BUSYBOX, TesOnNode

pytestmark = pytest.mark.realnode


def executor(command: list[str], **fields: object) -> dict[str, object]:
    return {"image": BUSYBOX, "command": command, **fields}


def times_in_order(task: dict) -> None:
    """creation <= task start <= every executor's start <= its end <= task end."""
    log = task["logs"][0]
    created, start, end = (datetime.fromisoformat(task["creation_time"]), datetime.fromisoformat(log["start_time"]),
                           datetime.fromisoformat(log["end_time"]))
    assert start <= end, log
    assert created <= end
    for entry in log["logs"]:
        assert start <= datetime.fromisoformat(entry["start_time"]) <= datetime.fromisoformat(entry["end_time"]) <= end


def test_echo_completes_with_stdout_in_full_view(tes_real: TesOnNode) -> None:
    """An echo runs in a real container; FULL shows its stdout and exit code 0; TRec wrote the end."""
    task_id = tes_real.create({"name": "echo", "executors": [executor(["echo", "hello"])]})
    task = tes_real.wait(task_id)
    assert task["state"] == "COMPLETE", task
    [entry] = task["logs"][0]["logs"]
    assert (entry["exit_code"], entry["stdout"]) == (0, "hello\n")
    times_in_order(task)
    assert tes_real.ended_by(task_id) == "trec"


def test_exit_code_3_is_executor_error_and_stops_the_task(tes_real: TesOnNode) -> None:
    """An executor exiting 3 ends the task EXECUTOR_ERROR with that code; later executors never run."""
    task_id = tes_real.create({"executors": [executor(["sh", "-c", "echo before; exit 3"]), executor(["echo", "never"])]})
    task = tes_real.wait(task_id)
    assert task["state"] == "EXECUTOR_ERROR", task
    [entry] = task["logs"][0]["logs"]
    assert (entry["exit_code"], entry["stdout"]) == (3, "before\n")
    assert any("executor #0 exited with code 3" in line for line in task["logs"][0]["system_logs"]), task


def test_ignore_error_records_both_codes_and_goes_on(tes_real: TesOnNode) -> None:
    """ignore_error: the non-zero code is recorded, the next executor still runs, the task completes."""
    task_id = tes_real.create({"executors": [
        executor(["sh", "-c", "exit 7"], ignore_error=True),
        executor(["sh", "-c", "echo after; exit 0"]),
    ]})
    task = tes_real.wait(task_id)
    assert task["state"] == "COMPLETE", task
    assert [(e["exit_code"], e["stdout"]) for e in task["logs"][0]["logs"]] == [(7, ""), (0, "after\n")]


def test_stdin_stdout_and_stderr_files(tes_real: TesOnNode) -> None:
    """stdin is read from a content input; stdout and stderr files are uploaded over HTTP."""
    name = f"std-{time.time_ns()}"
    task_id = tes_real.create({
        "inputs": [{"path": "/data/in.txt", "content": "from stdin\n"}],
        "outputs": [
            {"path": "/data/out.txt", "url": tes_real.http_url(f"{name}/out.txt")},
            {"path": "/data/err.txt", "url": tes_real.http_url(f"{name}/err.txt")},
        ],
        "executors": [executor(["sh", "-c", "cat; echo to-stderr >&2"], stdin="/data/in.txt",
                               stdout="/data/out.txt", stderr="/data/err.txt")],
    })
    task = tes_real.wait(task_id)
    assert task["state"] == "COMPLETE", task
    directory = tes_real.http.directory / name
    assert (directory / "out.txt").read_text() == "from stdin\n"
    assert (directory / "err.txt").read_text() == "to-stderr\n"


def test_http_s3_and_content_inputs_and_outputs_with_a_wildcard(tes_real: TesOnNode) -> None:
    """Inputs over HTTP, S3 and content; outputs to S3 and HTTP, one a wildcard; output file logs listed."""
    s3 = tes_real.s3.client()
    bucket = f"e2e-{time.time_ns() % 10**12}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="in/b.txt", Body=b"bee\n")
    name = f"io-{time.time_ns()}"
    (tes_real.http.directory / name).mkdir()
    (tes_real.http.directory / name / "a.txt").write_text("ay\n")
    task_id = tes_real.create({
        "inputs": [
            {"path": "/in/a.txt", "url": tes_real.http_url(f"{name}/a.txt")},
            {"path": "/in/b.txt", "url": f"s3://{bucket}/in/b.txt"},
            {"path": "/in/c.txt", "content": "sea\n"},
        ],
        "outputs": [
            {"path": "/out/all.txt", "url": f"s3://{bucket}/out/all.txt"},
            {"path": "/out/logs/*.log", "path_prefix": "/out/logs", "url": f"s3://{bucket}/out/logs", "type": "FILE"},
            {"path": "/out/all.txt", "url": tes_real.http_url(f"{name}/all.txt")},
        ],
        "executors": [executor(["sh", "-c", "mkdir -p /out/logs && cat /in/a.txt /in/b.txt /in/c.txt > /out/all.txt"
                                " && echo one > /out/logs/1.log && echo two > /out/logs/2.log"])],
    })
    task = tes_real.wait(task_id)
    assert task["state"] == "COMPLETE", task
    assert s3.get_object(Bucket=bucket, Key="out/all.txt")["Body"].read() == b"ay\nbee\nsea\n"
    assert s3.get_object(Bucket=bucket, Key="out/logs/1.log")["Body"].read() == b"one\n"
    assert s3.get_object(Bucket=bucket, Key="out/logs/2.log")["Body"].read() == b"two\n"
    assert (tes_real.http.directory / name / "all.txt").read_text() == "ay\nbee\nsea\n"
    files = {(o["url"], o["path"], int(o["size_bytes"])) for o in task["logs"][0]["outputs"]}
    assert files == {
        (f"s3://{bucket}/out/all.txt", "/out/all.txt", 11),
        (f"s3://{bucket}/out/logs/1.log", "/out/logs/1.log", 4),
        (f"s3://{bucket}/out/logs/2.log", "/out/logs/2.log", 4),
        (tes_real.http_url(f"{name}/all.txt"), "/out/all.txt", 11),
    }


def test_cancel_of_a_running_sleep(tes_real: TesOnNode) -> None:
    """Cancel of a running executor: CANCELED within 5 s, and the Job, Pod, PVC and Secret are gone."""
    task_id = tes_real.create({"executors": [executor(["sleep", "600"])]})
    tes_real.wait(task_id, timeout=120, until=lambda t: t["state"] == "RUNNING")
    asked = time.monotonic()
    tes_real.cancel(task_id)
    task = tes_real.wait(task_id, timeout=30)
    took = time.monotonic() - asked
    assert task["state"] == "CANCELED", task
    assert took < 5, f"CANCELED after {took:.1f}s"
    deadline = time.monotonic() + 30
    while (left := tes_real.task_objects(task_id)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert left == []
    print(f"\ncancel: CANCELED after {took:.1f}s, Job/Pod/PVC/Secret gone after {time.monotonic() - asked:.1f}s")


def test_nonexistent_image_is_system_error_naming_the_pull_error(tes_real: TesOnNode) -> None:
    """An image nobody has cannot be pulled: SYSTEM_ERROR, and the system log says why."""
    task_id = tes_real.create({"executors": [{"image": "localhost/poiesis/no-such-image:1", "command": ["true"]}]})
    task = tes_real.wait(task_id, timeout=120)
    assert task["state"] == "SYSTEM_ERROR", task
    text = " ".join(task["logs"][0]["system_logs"])
    assert "ErrImagePull" in text or "ImagePullBackOff" in text, text
    assert "no-such-image" in text, text


def test_unschedulable_task_is_system_error(tes_real: TesOnNode) -> None:
    """A task asking for more CPU than the node has never schedules: SYSTEM_ERROR saying so."""
    task_id = tes_real.create({"resources": {"cpu_cores": 512}, "executors": [executor(["true"])]})
    task = tes_real.wait(task_id, timeout=120)
    assert task["state"] == "SYSTEM_ERROR", task
    text = " ".join(task["logs"][0]["system_logs"])
    assert "Insufficient cpu" in text or "Unschedulable" in text, text


def _containers(socket: str, pod: str, name: str) -> list[str]:
    """The containerd ids of container NAME of POD (one filter: its comma-separated terms must all match)."""
    match = f'labels."io.kubernetes.pod.name"=={pod},labels."io.kubernetes.container.name"=={name}'
    out = subprocess.run(["ctr", "-a", socket, "-n", "k8s.io", "containers", "ls", "-q", match],
                         capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_trec_killed_mid_task_the_task_still_ends_right(tes_real: TesOnNode) -> None:
    """SIGKILL to TRec's container while an executor runs: the task still ends COMPLETE with its log."""
    task_id = tes_real.create({"executors": [executor(["sh", "-c", "sleep 6; echo survived"])]})
    tes_real.wait(task_id, timeout=120, until=lambda t: t["state"] == "RUNNING")
    pod = tes_real.core.list_namespaced_pod(tes_real.namespace, label_selector=f"poiesis.io/task={task_id}").items[0]
    containers = _containers(tes_real.node.containerd_socket, pod.metadata.name, "trec")
    assert containers, "TRec's container is not on the node"
    for container in containers:
        subprocess.run(["ctr", "-a", tes_real.node.containerd_socket, "-n", "k8s.io", "tasks", "kill", "-s", "SIGKILL",
                        container], capture_output=True, check=False)
    task = tes_real.wait(task_id, timeout=120)
    assert task["state"] == "COMPLETE", task
    [entry] = task["logs"][0]["logs"]
    assert (entry["exit_code"], entry["stdout"]) == (0, "survived\n")
    assert tes_real.ended_by(task_id) in {"trec", "tctl"}


def test_a_task_past_its_time_limit_ends_saying_so_with_its_output_so_far(tes_real: TesOnNode) -> None:
    """active_deadline_seconds=15 on `echo early; sleep 600`: the kubelet stops the Pod (DeadlineExceeded); the task
    ends EXECUTOR_ERROR with the limit's line and the killed executor's log keeps `early`."""
    task_id = tes_real.create({"executors": [executor(["sh", "-c", "echo early; sleep 600"])],
                               "resources": {"backend_parameters": {"active_deadline_seconds": "15"}}})
    task = tes_real.wait(task_id, timeout=150)
    assert task["state"] == "EXECUTOR_ERROR", task
    assert "the task reached its time limit of 15s and was stopped" in task["logs"][0]["system_logs"], task
    [entry] = task["logs"][0]["logs"]
    assert entry["stdout"] == "early\n", entry
    assert entry["exit_code"] == 137, entry
