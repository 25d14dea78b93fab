"""``poiesis serve`` lets file:// use its working directory by default, and says so."""

from __future__ import annotations

import time
from pathlib import Path

import requests

from poiesis.local import service


def _wait(tes: str, task_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        task = requests.get(f"{tes}/tasks/{task_id}", params={"view": "FULL"}, timeout=10).json()
        if task["state"] not in ("QUEUED", "INITIALIZING", "RUNNING") or time.monotonic() > deadline:
            return task
        time.sleep(0.2)


def test_default_roots_are_the_working_directory_but_never_slash(tmp_path: Path) -> None:
    """Unset POIESIS_FILER_FILE_ROOTS means the server's working directory; started in / it means none."""
    assert service.default_file_roots(tmp_path) == (tmp_path.resolve(),)
    assert service.default_file_roots(Path("/")) == ()
    assert "POIESIS_FILER_FILE_ROOTS" in service.file_roots_line(())


def test_serve_allows_its_working_directory_and_refuses_the_rest(start_serve, tmp_path: Path) -> None:
    """A task reading and writing file:// under serve's cwd completes; one outside is a 400 at create."""
    served = start_serve(cwd=tmp_path / "project")
    project = served.cwd.resolve()
    assert f"file:// inputs and outputs allowed under {project}; set POIESIS_FILER_FILE_ROOTS" in served.output()
    tes = served.tes
    assert requests.get(f"{tes}/service-info", timeout=10).json()["storage"][0] == f"file://{project}/"
    (project / "in.txt").write_text("from the project\n")
    task = {
        "inputs": [{"path": "/data/in.txt", "url": f"file://{project}/in.txt"}],
        "outputs": [{"path": "/data/out.txt", "url": f"file://{project}/results/out.txt"}],
        "executors": [{"image": "busybox", "command": ["sh", "-c", "tr a-z A-Z < /data/in.txt > /data/out.txt"]}],
    }
    created = requests.post(f"{tes}/tasks", json=task, timeout=10)
    assert created.status_code == 200, created.text
    assert _wait(tes, created.json()["id"])["state"] == "COMPLETE"
    assert (project / "results" / "out.txt").read_text() == "FROM THE PROJECT\n"

    task["outputs"][0]["url"] = f"file://{tmp_path}/elsewhere/out.txt"
    refused = requests.post(f"{tes}/tasks", json=task, timeout=10)
    assert refused.status_code == 400
    assert "POIESIS_FILER_FILE_ROOTS" in refused.json()["detail"]
    assert not (tmp_path / "elsewhere").exists()


def test_an_empty_setting_refuses_every_file_url(start_serve, tmp_path: Path) -> None:
    """POIESIS_FILER_FILE_ROOTS set but empty: no file entry in storage, file:// refused."""
    served = start_serve(env={"POIESIS_FILER_FILE_ROOTS": ""})
    assert "allowed under nowhere" in served.output()
    storage = requests.get(f"{served.tes}/service-info", timeout=10).json()["storage"]
    assert not [s for s in storage if s.startswith("file")]
