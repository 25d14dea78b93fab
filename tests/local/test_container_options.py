"""Task values never become options of ``podman run``: the host's root through ``image``, for real, in podman.

The tasks go straight into the store and the backend, as a task the API did
not check would (the API refuses such images itself with a 400: this is the
backend's own line of defence).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from poiesis import store
from poiesis.local import LocalBackend
from tests.plugins.local import IMAGE, podman_mode, wait_for
from tests.tasks import tes_task


def _run_unchecked(task_store: store.Store, backend: LocalBackend, doc: dict) -> dict:
    """Create the task in the store, bypassing the API's validation, run it, return its FULL view."""
    task_id = task_store.create_task(tes_task(doc))
    backend.submit(task_id, tes_task())

    def full() -> dict:
        model = task_store.get_task_model(task_id)
        assert model is not None
        return model.model_dump(mode="json", exclude_none=True)

    return wait_for(full, timeout=60)


@pytest.mark.parametrize("option", ["--volume=/:/host", "--volume", "-v=/:/host", "--privileged", "--network=host"])
def test_an_image_that_is_an_option_gives_no_host_access(
    task_store: store.Store, make_backend: Callable[..., LocalBackend], tmp_path: Path, option: str
) -> None:
    """image '--volume=/:/host' with command ['sh', IMAGE, '-c', ...]: the host's root would be at /host.

    The task ends SYSTEM_ERROR naming the image before any executor runs; the
    host file is neither read (its content is in no log) nor written.
    """
    backend = make_backend(podman_mode())
    secret = f"host-secret-{uuid.uuid4().hex}"
    victim = tmp_path / "victim.txt"
    victim.write_text(secret)
    script = f"cat /host{victim}; echo pwned > /host{victim}; grep CapEff /proc/self/status"
    command = ["sh", IMAGE, "-c", script] if option != "--volume" else ["sh", "/:/host", IMAGE, "-c", script]
    task = _run_unchecked(task_store, backend, {"executors": [{"image": option, "command": command}]})
    assert victim.read_text() == secret, "the executor wrote a host file"
    assert secret not in str(task), "the executor read a host file"
    assert task["state"] == "SYSTEM_ERROR", task
    log = task["logs"][0]
    assert not log.get("logs"), "no executor ran"
    assert any(
        line.startswith("executor #0: not run: executors[0].image:") and "not a valid image reference" in line
        for line in log["system_logs"]
    ), log["system_logs"]


def test_a_later_executors_bad_image_stops_the_task_before_the_first_runs(
    task_store: store.Store, make_backend: Callable[..., LocalBackend], tmp_path: Path
) -> None:
    """Every image is checked before anything runs: executor #0 never starts when #1's image is an option."""
    backend = make_backend(podman_mode())
    marker = tmp_path / "ran"
    task = _run_unchecked(task_store, backend, {
        "volumes": ["/out"],
        "executors": [
            {"image": IMAGE, "command": ["touch", "/out/ran"]},
            {"image": "--privileged", "command": ["sh", IMAGE, "-c", "true"]},
        ],
    })
    assert task["state"] == "SYSTEM_ERROR", task
    assert not task["logs"][0].get("logs"), "executor #0 ran"
    assert "executor #1: not run: executors[1].image: '--privileged'" in task["logs"][0]["system_logs"][0]
    assert not marker.exists()
