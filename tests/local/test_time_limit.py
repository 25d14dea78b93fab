"""The task's time limit on the local backend, for real: process mode and podman containers."""

from __future__ import annotations

import subprocess
import time
import uuid
from datetime import datetime

from starlette.testclient import TestClient

from poiesis.local import LocalBackend
from tests.plugins.local import executor, processes_with, wait_for


def _full(client: TestClient, task_id: str) -> dict:
    return client.get(f"/tasks/{task_id}", params={"view": "FULL"}).json()


def test_a_task_past_its_limit_is_stopped_with_its_output_so_far(local_client: TestClient,
                                                                  local_backend: LocalBackend) -> None:
    """`echo early; sleep 60` with a 2 s limit: stopped at the limit, EXECUTOR_ERROR with the limit's line,
    stdout `early` kept with exit code 137, and nothing of it left running (process group / container)."""
    token = f"{uuid.uuid4().int % 10**6 + 10**6}.{uuid.uuid4().int % 997 + 1}"
    response = local_client.post("/tasks", json={
        "executors": [executor("sh", "-c", f"echo early; sleep {token}"), executor("echo", "never")],
        "resources": {"backend_parameters": {"active_deadline_seconds": "2"}},
    })
    assert response.status_code == 200, response.text
    task_id = response.json()["id"]
    started = time.monotonic()
    task = wait_for(lambda: _full(local_client, task_id), timeout=30)
    elapsed = time.monotonic() - started
    assert task["state"] == "EXECUTOR_ERROR", task
    assert elapsed < 30, f"ended after {elapsed:.1f}s"
    attempt = task["logs"][0]
    assert "the task reached its time limit of 2s and was stopped" in attempt["system_logs"]
    (log,) = attempt["logs"]  # the second executor never ran
    assert log["stdout"] == "early\n"
    assert log["exit_code"] == 137
    ran = datetime.fromisoformat(log["end_time"]) - datetime.fromisoformat(log["start_time"])
    assert ran.total_seconds() < 4, f"the executor ran {ran} (its container's start counts towards the 2 s)"
    assert processes_with(f"sleep {token}") == []
    if local_backend.mode.isolated:
        out = subprocess.run(["podman", "ps", "-a", "-q", "--filter", f"label=poiesis.task={task_id}"],
                             capture_output=True, text=True, check=True)
        assert out.stdout.strip() == "", "the executor's container is still there"


def test_the_operators_maximum_refuses_more_and_limits_a_task_that_asks_nothing(serve_app, make_backend) -> None:
    """POIESIS_MAX_TASK_SECONDS=2: asking 3 s is a 400 naming the parameter; asking nothing runs 2 s at most."""
    from tests.plugins.local import process_mode

    client = serve_app(backend=make_backend(process_mode(), max_task_seconds=2))
    refused = client.post("/tasks", json={"executors": [executor("true")],
                                          "resources": {"backend_parameters": {"active_deadline_seconds": "3"}}})
    assert refused.status_code == 400
    assert "resources.backend_parameters.active_deadline_seconds" in refused.json()["detail"]
    assert "from 1 to 2 (the maximum is POIESIS_MAX_TASK_SECONDS)" in refused.json()["detail"]
    task_id = client.post("/tasks", json={"executors": [executor("sleep", "30")]}).json()["id"]
    task = wait_for(lambda: _full(client, task_id), timeout=15)
    assert task["state"] == "EXECUTOR_ERROR", task
    assert "the task reached its time limit of 2s and was stopped" in task["logs"][0]["system_logs"]
