"""An executor's env never appears on a command line (every local user reads /proc/*/cmdline, ps shows it)."""

from __future__ import annotations

import stat
import time
import uuid
from pathlib import Path

from starlette.testclient import TestClient

from poiesis.local import LocalBackend
from tests.plugins.local import executor, processes_with, wait_for


def _processes_holding(argv: bytes, environ: bytes) -> list[int]:
    """Pids whose command line is exactly ``argv`` (NUL-joined) and whose environment holds ``environ``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "cmdline").read_bytes() == argv and environ in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_executor_env_is_on_no_command_line(
    local_client: TestClient, local_backend: LocalBackend, tmp_path: Path
) -> None:
    """While the executor sleeps with the secret in its environment, no process's cmdline holds the secret.

    From CreateTask to the moment the executor process is seen running with
    the variable, every /proc/*/cmdline is searched (podman's own, conmon's,
    the wrapper's); then the executor's output shows the variable arrived.
    Container mode: the env file is private (0600) while it exists.
    """
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    response = local_client.post("/tasks", json={"executors": [
        executor("sh", "-c", 'echo "got:$POIESIS_TEST_SECRET"; exec sleep 3', env={"POIESIS_TEST_SECRET": secret}),
    ]})
    assert response.status_code == 200, response.text
    task_id = response.json()["id"]
    leaks: list[int] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        leaks += processes_with(secret)
        if _processes_holding(b"sleep\x003\x00", f"POIESIS_TEST_SECRET={secret}".encode()):
            break
        time.sleep(0.02)
    else:
        raise AssertionError("the executor was never seen running")
    leaks += processes_with(secret)
    assert leaks == [], "the secret was on a command line"
    if local_backend.mode.isolated:
        env_file = tmp_path / "work" / task_id / ".poiesis" / "env-0"
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
        assert env_file.read_text() == f"POIESIS_TEST_SECRET={secret}\n"
    task = wait_for(lambda: local_client.get(f"/tasks/{task_id}", params={"view": "FULL"}).json())
    assert task["state"] == "COMPLETE", task
    assert task["logs"][0]["logs"][0]["stdout"] == f"got:{secret}\n"


def test_env_an_env_file_cannot_carry_ends_the_task_before_it_runs(local_client: TestClient,
                                                                     local_backend: LocalBackend) -> None:
    """Container mode: a value with a newline ends the task SYSTEM_ERROR naming the variable (never on argv)."""
    response = local_client.post("/tasks", json={"executors": [
        executor("sh", "-c", 'echo "$M"', env={"M": "line1\nline2"}),
    ]})
    task_id = response.json()["id"]
    task = wait_for(lambda: local_client.get(f"/tasks/{task_id}", params={"view": "FULL"}).json())
    if not local_backend.mode.isolated:  # process mode: the environment of the process carries anything
        assert task["state"] == "COMPLETE", task
        assert task["logs"][0]["logs"][0]["stdout"] == "line1\nline2\n"
        return
    assert task["state"] == "SYSTEM_ERROR", task
    assert not task["logs"][0].get("logs"), "no executor ran"
    (line,) = task["logs"][0]["system_logs"]
    assert line.startswith("executor #0: not run: executors[0].env['M']: the value holds a newline"), line
