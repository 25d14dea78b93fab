"""GPUs on the local backend: found or declared, refused with a 400 when the machine has none, the engine's flag.

This machine has no GPU: the refusal is tested for real (the API over the real
backend, in process and podman mode); a declared GPU is given to real podman as a
CDI device, which podman refuses here for want of a CDI spec; the flags and the
counting are pure functions.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from poiesis import store
from poiesis.local import LocalBackend, engine, gpus
from tests.plugins.local import IMAGE, executor, podman_mode, wait_for
from tests.tasks import tes_executor, tes_task

#: the shape ``nvidia-ctk cdi generate`` writes for a machine with two GPUs (devices by index, by UUID, and all)
CDI_SPEC = {
    "cdiVersion": "0.5.0", "kind": "nvidia.com/gpu",
    "devices": [{"name": "0", "containerEdits": {"deviceNodes": [{"path": "/dev/nvidia0"}]}},
                {"name": "1", "containerEdits": {"deviceNodes": [{"path": "/dev/nvidia1"}]}},
                {"name": "GPU-4a5b", "containerEdits": {}}, {"name": "GPU-9f00", "containerEdits": {}},
                {"name": "all", "containerEdits": {}}],
    "containerEdits": {},
}


def _gpu_task(count: str = "1") -> dict:
    return {"executors": [executor("true")], "resources": {"backend_parameters": {"gpu": count}}}


def test_a_gpu_task_on_a_machine_without_gpus_is_a_400_naming_why(serve_app, local_backend: LocalBackend) -> None:
    """No GPU here: gpu=1 is a 400 naming POIESIS_LOCAL_GPUS and what was looked at; service-info lists no gpu."""
    assert local_backend.gpus.count == 0, "this test needs a machine without GPUs"
    client = serve_app(backend=local_backend)
    response = client.post("/tasks", json=_gpu_task())
    assert response.status_code == 400, response.text
    (entry,) = response.json()["backend_parameters"]
    assert (entry["parameter"], entry["setting"]) == ("gpu", "POIESIS_LOCAL_GPUS")
    assert entry["reason"].startswith("this machine has no GPU for tasks ("), entry
    assert "POIESIS_LOCAL_GPUS declares them" in response.json()["detail"]
    assert client.get("/service-info").json()["tesResources_backend_parameters"] == ["active_deadline_seconds"]
    assert client.get("/tasks").json()["tasks"] == []


def test_a_stored_gpu_task_is_not_run_without_gpus(task_store: store.Store, make_backend) -> None:
    """The backend checks again: a gpu task that reached the store ends SYSTEM_ERROR before anything runs."""
    backend = make_backend(engine.process_mode())
    task_id = task_store.create_task(tes_task(_gpu_task()))
    backend.submit(task_id, tes_task(_gpu_task()))
    task = wait_for(lambda: task_store.get_task(task_id, view="FULL"))
    assert task["state"] == "SYSTEM_ERROR"
    assert task["logs"][0]["system_logs"][-1].startswith(
        "not run: resources.backend_parameters.gpu: this machine has no GPU for tasks (executors run as host processes")
    assert task["logs"][0]["logs"] == []


def test_declared_gpus_reach_podman_as_a_cdi_device(serve_app, make_backend) -> None:
    """POIESIS_LOCAL_GPUS=2: gpu listed, 3 refused; gpu=1 runs real podman with --device=nvidia.com/gpu=all, which
    finds no CDI spec on this machine and says so."""
    backend = make_backend(podman_mode(), gpus=2)
    client = serve_app(backend=backend)
    assert client.get("/service-info").json()["tesResources_backend_parameters"] == ["active_deadline_seconds", "gpu"]
    refused = client.post("/tasks", json=_gpu_task("3"))
    assert refused.status_code == 400 and "'3' is not a whole number from 1 to 2" in refused.json()["detail"]
    task_id = client.post("/tasks", json=_gpu_task("1")).json()["id"]
    task = wait_for(lambda: client.get(f"/tasks/{task_id}", params={"view": "FULL"}).json())
    # podman exits 126 (not its 125 for its own failures) when a CDI device cannot be resolved
    (log,) = task["logs"][0]["logs"]
    assert (task["state"], log["exit_code"]) == ("EXECUTOR_ERROR", 126)
    assert "unresolvable CDI devices nvidia.com/gpu=all" in log["stderr"], log


def test_counting_gpus() -> None:
    """CDI specs count devices by index (not their UUID aliases nor all); nvidia-smi -L one GPU a line."""
    assert gpus.count_cdi([CDI_SPEC, {"kind": "amd.com/gpu", "devices": [{"name": "0"}]}, None]) == 2
    assert gpus.count_cdi([{"kind": "nvidia.com/gpu", "devices": [{"name": "GPU-1"}, {"name": "all"}]}]) == 1
    listing = "GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-4a5b)\nGPU 1: NVIDIA A100-SXM4-80GB (UUID: GPU-9f00)\n"
    assert gpus.count_smi(listing) == 2 and gpus.count_smi("") == 0


def test_detect_reads_cdi_specs_for_podman_and_honours_a_declaration(tmp_path: Path) -> None:
    """podman: the CDI directories' specs (YAML or JSON); a declared count wins; process mode has none."""
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "nvidia.yaml").write_text(yaml.safe_dump(CDI_SPEC))
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "other.json").write_text(json.dumps({"kind": "nvidia.com/gpu", "devices": [{"name": "7"}]}))
    (tmp_path / "run" / "broken.yaml").write_text("kind: [")
    found = gpus.detect("podman", declared=None, cdi_dirs=(tmp_path / "etc", tmp_path / "run", tmp_path / "none"))
    assert found.count == 3 and "CDI specs of nvidia.com/gpu" in found.how
    assert gpus.detect("podman", declared=0, cdi_dirs=(tmp_path / "etc",)) == gpus.Found(0, "POIESIS_LOCAL_GPUS=0")
    assert gpus.detect("process", declared=4).count == 0


@pytest.mark.parametrize(("mode", "flags"), [("podman", ["--device=nvidia.com/gpu=all"]), ("docker", ["--gpus=2"])])
def test_the_engine_flag_for_gpus(mode: str, flags: list[str], tmp_path: Path) -> None:
    """podman: the CDI device of every GPU; docker: --gpus=N; both before the image, none without gpu."""
    spec = tes_executor({"image": IMAGE, "command": ["nvidia-smi", "-L"]})
    plan: Callable[[int], list[str]] = lambda n: engine.plan_container(  # noqa: E731
        spec, mode=engine.Mode(mode, cli=f"/usr/bin/{mode}"), task_id="t1", index=0, root=tmp_path, mapped=[],
        stdio=(None, tmp_path / "o", tmp_path / "e"), gpus=n).argv
    argv = plan(2)
    assert [a for a in argv if a in flags] == flags
    assert argv.index(flags[0]) < argv.index("--")
    assert not [a for a in plan(0) if "gpu" in a]
