"""What an executor must not reach: host files through planted links, the server's /proc, its PATH, others' /tmp."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from poiesis.local import LocalBackend, engine
from tests.plugins.local import executor, wait_for


def _run(client: TestClient, task: dict, *, timeout: float = 30) -> dict:
    response = client.post("/tasks", json=task)
    assert response.status_code == 200, response.text
    task_id = response.json()["id"]
    return wait_for(lambda: client.get(f"/tasks/{task_id}", params={"view": "FULL"}).json(), timeout=timeout)


def _refused(task: dict, needle: str) -> None:
    assert task["state"] == "EXECUTOR_ERROR", task
    lines = task["logs"][0]["system_logs"]
    assert any(needle in line for line in lines), lines


def test_stdout_through_a_planted_symlink_is_refused(local_client: TestClient, tmp_path: Path) -> None:
    """Executor 0 links /out/log to a host file; executor 1's stdout /out/log does not overwrite it."""
    victim = tmp_path / "victim"
    victim.write_text("precious")
    task = _run(local_client, {"volumes": ["/out"], "executors": [
        executor("ln", "-s", str(victim), "/out/log"),
        executor("echo", "overwritten", stdout="/out/log"),
    ]})
    _refused(task, "symbolic link")
    assert victim.read_text() == "precious"


def test_stderr_through_a_symlinked_directory_is_refused(local_client: TestClient, tmp_path: Path) -> None:
    """A directory link on the way (/out/d -> host dir) is refused too: nothing is created there."""
    outside = tmp_path / "outside"
    outside.mkdir()
    task = _run(local_client, {"volumes": ["/out"], "executors": [
        executor("ln", "-s", str(outside), "/out/d"),
        executor("sh", "-c", "echo x >&2", stderr="/out/d/err.txt"),
    ]})
    _refused(task, "symbolic link")
    assert list(outside.iterdir()) == []


def test_stdin_through_a_planted_symlink_is_refused(local_client: TestClient, tmp_path: Path) -> None:
    """Executor 0 links /out/in to a host secret; executor 1 never reads it through stdin."""
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t-value")
    task = _run(local_client, {"volumes": ["/out"], "executors": [
        executor("ln", "-s", str(secret), "/out/in"),
        executor("cat", stdin="/out/in"),
    ]})
    _refused(task, "symbolic link")
    assert "s3cr3t" not in str(task)


def test_workdir_through_a_planted_symlink_is_refused(serve_app, make_backend, tmp_path: Path) -> None:
    """Process mode: a workdir below a planted link is not created outside the task."""
    from tests.plugins.local import process_mode

    client = serve_app(backend=make_backend(process_mode()))
    outside = tmp_path / "outside"
    outside.mkdir()
    task = _run(client, {"volumes": ["/out"], "executors": [
        executor("ln", "-s", str(outside), "/out/wd"),
        executor("touch", "made-here", workdir="/out/wd/sub"),
    ]})
    _refused(task, "symbolic link")
    assert list(outside.iterdir()) == []


def test_beneath_refuses_links_fifos_and_escapes(tmp_path: Path) -> None:
    """The opener itself: a hard link, a FIFO, a final or intermediate symlink, '..' are all refused."""
    from poiesis import beneath

    root = tmp_path / "root"
    (root / "files" / "d").mkdir(parents=True)
    victim = tmp_path / "victim"
    victim.write_text("precious")
    os.link(victim, root / "files" / "hard")
    os.mkfifo(root / "files" / "fifo")
    (root / "files" / "sym").symlink_to(victim)
    (root / "files" / "symdir").symlink_to(tmp_path)
    for name, write in (("hard", True), ("fifo", True), ("fifo", False), ("sym", False), ("symdir/victim", True),
                        ("../victim", False)):
        with pytest.raises(beneath.Unsafe):
            beneath.open_file(root, root / "files" / name, write=write)
    with pytest.raises(beneath.Unsafe):
        beneath.make_dirs(root, root / "files" / "symdir" / "sub")
    assert victim.read_text() == "precious" and not (tmp_path / "sub").exists()
    fd = beneath.open_file(root, root / "files" / "d" / "new" / "out.txt", write=True)
    os.write(fd, b"ok")
    os.close(fd)
    assert (root / "files" / "d" / "new" / "out.txt").read_text() == "ok"


@pytest.fixture
def process_backend(make_backend) -> LocalBackend:
    from tests.plugins.local import process_mode

    mode = process_mode()
    if not mode.private_mounts:
        pytest.fail("process mode has no mount namespace here (needs root or user namespaces)")
    return make_backend(mode)


@pytest.fixture
def process_client(serve_app, process_backend: LocalBackend) -> TestClient:
    return serve_app(backend=process_backend)


def test_proc_shows_no_server_process_or_environment(process_client: TestClient, monkeypatch) -> None:
    """Process mode: /proc holds only the executor's own processes; no environ carries the server's secret."""
    secret = f"probe-{uuid.uuid4()}"
    monkeypatch.setenv("POIESIS_PROBE_SECRET", secret)
    server_pid = os.getpid()
    probe = (
        f"cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n' | grep -c {secret};"
        f" test -e /proc/{server_pid} && echo server-visible;"
        " ls /proc | grep -c '^[0-9]'"
    )
    task = _run(process_client, {"executors": [executor("sh", "-c", probe, ignore_error=True)]})
    stdout = task["logs"][0]["logs"][0]["stdout"].split()
    assert stdout[0] == "0", "the server's environment was readable"
    assert "server-visible" not in stdout or server_pid < 4
    assert int(stdout[-1]) <= 4, f"{stdout[-1]} processes visible: more than the probe's own"


def test_tmp_is_private_per_task_and_path_is_standard(process_client: TestClient) -> None:
    """Process mode: /tmp is the task's own (another task's file is absent, the host's too); PATH is standard."""
    name = f"poiesis-probe-{uuid.uuid4()}"
    Path("/tmp", f"{name}-host").write_text("host")
    try:
        first = _run(process_client, {"executors": [executor("sh", "-c", f"echo hi > /tmp/{name}")]})
        assert first["state"] == "COMPLETE", first
        script = (f'test -e /tmp/{name} && echo seen || echo unseen; test -e /tmp/{name}-host && echo host || echo'
                  f' nohost; echo "$PATH"; command -v python3 || echo no-python')
        task = _run(process_client, {"executors": [executor("sh", "-c", script)]})
        assert task["state"] == "COMPLETE", task
        other, host, path, python = task["logs"][0]["logs"][0]["stdout"].split()[:4]
        assert (other, host) == ("unseen", "nohost")
        assert path == engine.DEFAULT_PATH
        assert ".venv" not in python
        assert not Path("/tmp", name).exists()
    finally:
        Path("/tmp", f"{name}-host").unlink()
