"""The local backend running real tasks through the API, in process mode and in podman containers."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

from starlette.testclient import TestClient

from poiesis.local import LocalBackend, runner
from tests.plugins.local import executor, processes_with, wait_for
from tests.tasks import tes_task


def _create(client: TestClient, task: dict) -> str:
    response = client.post("/tasks", json=task)
    assert response.status_code == 200, response.text
    return response.json()["id"]


def _full(client: TestClient, task_id: str) -> dict:
    return client.get(f"/tasks/{task_id}", params={"view": "FULL"}).json()


def _run(client: TestClient, task: dict, *, timeout: float = 30) -> dict:
    task_id = _create(client, task)
    return wait_for(lambda: _full(client, task_id), timeout=timeout)


def test_echo_hello_completes_with_its_stdout(local_client: TestClient, local_backend: LocalBackend) -> None:
    """echo hello ends COMPLETE; its executor log holds exit code 0, stdout, start and end times."""
    task = _run(local_client, {"executors": [executor("echo", "hello")]})
    assert task["state"] == "COMPLETE", task
    (log,) = task["logs"][0]["logs"]
    assert log["exit_code"] == 0
    assert log["stdout"] == "hello\n"
    assert log["start_time"] <= log["end_time"]
    assert task["logs"][0]["start_time"] == log["start_time"], "RUNNING is stamped at the first executor start"
    assert task["logs"][0]["end_time"] >= log["end_time"]
    expected = [] if local_backend.mode.isolated else [runner.PROCESS_MODE_LOG]
    assert task["logs"][0].get("system_logs", []) == expected, "process mode says so in every task"


def test_failing_executor_ends_executor_error_with_its_code(local_client: TestClient) -> None:
    """A non-zero exit ends the task EXECUTOR_ERROR with the real code; later executors never run."""
    task = _run(local_client, {"executors": [
        executor("sh", "-c", "echo oops >&2; exit 7"),
        executor("echo", "never"),
    ]})
    assert task["state"] == "EXECUTOR_ERROR", task
    logs = task["logs"][0]["logs"]
    assert [log["exit_code"] for log in logs] == [7]
    assert logs[0]["stderr"] == "oops\n"
    assert "executor #0 exited with code 7" in task["logs"][0]["system_logs"]


def test_ignore_error_goes_on_and_records_both_codes(local_client: TestClient) -> None:
    """ignore_error lets the next executor run; both exit codes are recorded and the task completes."""
    task = _run(local_client, {"executors": [
        executor("sh", "-c", "exit 3", ignore_error=True),
        executor("sh", "-c", "echo second"),
    ]})
    assert task["state"] == "COMPLETE", task
    assert [(log["exit_code"], log.get("stdout")) for log in task["logs"][0]["logs"]] == [(3, ""), (0, "second\n")]


def test_content_input_is_read_by_the_executor(local_client: TestClient) -> None:
    """An inline content input appears at its TES path for the executor, also via workdir and env."""
    task = _run(local_client, {
        "inputs": [{"path": "/data/in/greeting.txt", "content": "hi from content"}],
        "executors": [executor(
            "sh", "-c", 'cat /data/in/greeting.txt; echo; cat greeting.txt; echo; cat "$IN"',
            workdir="/data/in", env={"IN": "/data/in/greeting.txt"},
        )],
    })
    assert task["state"] == "COMPLETE", task
    assert task["logs"][0]["logs"][0]["stdout"] == "hi from content\nhi from content\nhi from content"


def test_file_outputs_are_uploaded_with_output_file_logs(local_client: TestClient, tmp_path: Path) -> None:
    """file:// outputs (a FILE and a DIRECTORY) are uploaded and listed in the output file logs."""
    dest = tmp_path / "results"
    task = _run(local_client, {
        "outputs": [
            {"path": "/out/report.txt", "url": f"file://{dest}/report.txt", "type": "FILE"},
            {"path": "/out/dir", "url": f"file://{dest}/dir", "type": "DIRECTORY"},
        ],
        "executors": [executor(
            "sh", "-c", "echo -n report > /out/report.txt; mkdir -p /out/dir; echo -n ab > /out/dir/a.txt",
        )],
    })
    assert task["state"] == "COMPLETE", task
    assert (dest / "report.txt").read_text() == "report"
    assert (dest / "dir" / "a.txt").read_text() == "ab"
    assert task["logs"][0]["outputs"] == [
        {"url": f"file://{dest}/report.txt", "path": "/out/report.txt", "size_bytes": "6"},
        {"url": f"file://{dest}/dir/a.txt", "path": "/out/dir/a.txt", "size_bytes": "2"},
    ]


def test_stdio_files_are_used(local_client: TestClient, tmp_path: Path) -> None:
    """stdin is read from its TES path; stdout/stderr go to theirs (and still fill the executor log)."""
    dest = tmp_path / "stdio"
    task = _run(local_client, {
        "inputs": [{"path": "/io/in.txt", "content": "line one\n"}],
        "outputs": [{"path": "/io/out.txt", "url": f"file://{dest}/out.txt"},
                    {"path": "/io/err.txt", "url": f"file://{dest}/err.txt"}],
        "executors": [executor("sh", "-c", "tr a-z A-Z; echo warn >&2",
                               stdin="/io/in.txt", stdout="/io/out.txt", stderr="/io/err.txt")],
    })
    assert task["state"] == "COMPLETE", task
    assert (dest / "out.txt").read_text() == "LINE ONE\n"
    assert (dest / "err.txt").read_text() == "warn\n"
    assert task["logs"][0]["logs"][0]["stdout"] == "LINE ONE\n"


def test_next_executor_reads_the_previous_stdout_file(local_client: TestClient) -> None:
    """A stdout file's directory is mapped for every executor, as in a Pod: the next one can read it."""
    task = _run(local_client, {
        "executors": [executor("echo", "from the first", stdout="/logs/first.out"),
                      executor("cat", "/logs/first.out")],
    })
    assert task["state"] == "COMPLETE", task
    assert task["logs"][0]["logs"][1]["stdout"] == "from the first\n"


def test_missing_input_ends_system_error_naming_it(local_client: TestClient, tmp_path: Path) -> None:
    """An input that cannot be fetched ends the task SYSTEM_ERROR; the system log names it; nothing runs."""
    task = _run(local_client, {
        "inputs": [{"name": "ref", "path": "/data/ref.fa", "url": f"file://{tmp_path}/absent.fa"}],
        "executors": [executor("echo", "never")],
    })
    assert task["state"] == "SYSTEM_ERROR", task
    assert task["logs"][0]["logs"] == []
    assert any("/data/ref.fa" in line and "ref" in line for line in task["logs"][0]["system_logs"])


def test_missing_output_ends_system_error(local_client: TestClient, tmp_path: Path) -> None:
    """A FILE output the executors did not write ends the task SYSTEM_ERROR naming the output."""
    task = _run(local_client, {
        "outputs": [{"path": "/out/never.txt", "url": f"file://{tmp_path}/never.txt"}],
        "executors": [executor("true")],
    })
    assert task["state"] == "SYSTEM_ERROR", task
    assert any("/out/never.txt" in line for line in task["logs"][0]["system_logs"])


def test_long_output_is_kept_as_a_bounded_tail(local_client: TestClient, local_backend: LocalBackend) -> None:
    """stdout longer than the tail limit is cut to its last tail_bytes bytes."""
    limit = local_backend.settings.tail_bytes
    task = _run(local_client, {"executors": [executor(
        "sh", "-c", f"i=0; while [ $i -lt {limit // 8 + 100} ]; do echo 1234567; i=$((i+1)); done; echo END",
    )]})
    assert task["state"] == "COMPLETE", task
    stdout = task["logs"][0]["logs"][0]["stdout"]
    assert len(stdout.encode()) == limit
    assert stdout.endswith("1234567\nEND\n")


def test_cancel_kills_a_sleeping_task_within_two_seconds(local_client: TestClient) -> None:
    """Cancelling a running task lands CANCELED within 2 s and leaves no process of it (children included)."""
    token = f"{uuid.uuid4().int % 10**6 + 10**6}.{uuid.uuid4().int % 997 + 1}"
    task_id = _create(local_client, {"executors": [executor("sh", "-c", f"sleep {token} & sleep {token}; wait")]})
    wait_for(lambda: _full(local_client, task_id), until=lambda t: t["state"] == "RUNNING")
    deadline = time.monotonic() + 10
    while len(processes_with(f"sleep {token}")) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_with(f"sleep {token}"), "the executor's processes never showed up"
    started = time.monotonic()
    assert local_client.post(f"/tasks/{task_id}:cancel").status_code == 200
    task = wait_for(lambda: _full(local_client, task_id), timeout=2)
    elapsed = time.monotonic() - started
    assert task["state"] == "CANCELED", task
    assert elapsed < 2
    assert processes_with(token) == []
    assert task["logs"][0]["logs"][0]["exit_code"] == 137


def test_cancel_of_a_waiting_task_is_immediate(task_store, make_backend) -> None:
    """A task waiting for a slot is cancelled at once and never runs."""
    from tests.plugins.local import process_mode

    backend = make_backend(process_mode(), max_tasks=1)
    blocker = task_store.create_task(tes_task({"executors": [executor("sleep", "30")]}))
    waiting = task_store.create_task(tes_task({"executors": [executor("echo", "never")]}))
    backend.submit(blocker, tes_task())
    backend.submit(waiting, tes_task())
    assert task_store.advance(waiting, "CANCELING") == "CANCELING"
    backend.cancel(waiting)
    assert task_store.get_state(waiting) == "CANCELED"
    task_store.advance(blocker, "CANCELING")
    backend.cancel(blocker)
    assert wait_for(lambda: task_store.get_task(blocker), timeout=5)["state"] == "CANCELED"
    assert task_store.get_task(waiting, view="FULL")["logs"][0]["logs"] == []


def test_service_info_says_how_tasks_run(local_client: TestClient, local_backend: LocalBackend, tmp_path: Path) -> None:
    """service-info's description names the mode (process mode: not isolated); storage names the file root."""
    info = local_client.get("/service-info").json()
    if local_backend.mode.isolated:
        assert "podman container" in info["description"]
    else:
        assert "not isolated" in info["description"]
    assert info["storage"][0] == f"file://{tmp_path.resolve()}/"


def test_container_mode_honours_the_image(serve_app, make_backend) -> None:
    """Container mode runs the executor's image; one not present locally ends SYSTEM_ERROR (never pulled)."""
    from tests.plugins.local import podman_mode

    client = serve_app(backend=make_backend(podman_mode()))
    task = _run(client, {"executors": [executor("sh", "-c", "test -x /bin/busybox && test ! -e /etc/os-release")]})
    assert task["state"] == "COMPLETE", "the executor did not see the busybox image's file system"
    task = _run(client, {"executors": [{"image": "localhost/poiesis/absent:0", "command": ["true"]}]})
    assert task["state"] == "SYSTEM_ERROR", task
    assert any("image not known" in line for line in task["logs"][0]["system_logs"])
    out = subprocess.run(["podman", "ps", "-a", "-q", "--filter", f"label=poiesis.task={task['id']}"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_container_mode_limits_a_tes_1_2_task_to_its_fractional_cores_and_memory(serve_app, make_backend) -> None:
    """On a 1.2 server, cpu_cores 0.5 and ram_gb 0.5 are the container's cgroup limits: half a core's quota, 512 MiB."""
    from tests.plugins.local import podman_mode

    client = serve_app(backend=make_backend(podman_mode()), tes_version="1.2")
    read = ("cat /sys/fs/cgroup/cpu.max 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us;"
            " cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes")
    task = _run(client, {"executors": [executor("sh", "-c", read)], "resources": {"cpu_cores": 0.5, "ram_gb": 0.5}})
    assert task["state"] == "COMPLETE", task
    cpu, memory = task["logs"][0]["logs"][0]["stdout"].splitlines()
    assert cpu.split()[0] == "50000" and memory == str(2**29), (cpu, memory)  # 50000 of a 100000 us period
