"""``filer in|out`` as a process: exit codes, outputs.json, the termination log, redaction."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.plugins.servers import FTP_PASSWORD, FtpServer, HttpServer, S3Server


def _run(direction: str, task: dict, *, root: Path, tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    task_file = tmp_path / f"task-{direction}.json"
    task_file.write_text(json.dumps(task))
    return subprocess.run(
        [sys.executable, "-m", "poiesis.filer", direction, "--task", str(task_file), "--root", str(root),
         "--termination-log", str(tmp_path / "termination-log")],
        # the test servers are on 127.0.0.1: allowed explicitly (the filers refuse loopback by default)
        env={**os.environ, "POIESIS_FILER_ALLOW_NETWORKS": "127.0.0.1/32", **env}, capture_output=True, text=True, timeout=120, check=False,
    )


def test_in_then_out_round_trip(s3_server: S3Server, s3_bucket: str, ftp_server: FtpServer, root: Path,
                                tmp_path: Path, file_store: Path) -> None:
    """TIF fetches every input, TOF uploads every output and writes outputs.json and output_types.json."""
    s3_server.client().put_object(Bucket=s3_bucket, Key="in/a.txt", Body=b"from s3")
    (ftp_server.directory / "cli").mkdir(exist_ok=True)
    (ftp_server.directory / "cli/b.txt").write_bytes(b"from ftp")
    env = {**s3_server.env(), "POIESIS_FILER_FILE_ROOTS": str(file_store)}
    task = {
        "inputs": [
            {"url": f"s3://{s3_bucket}/in/a.txt", "path": "/data/a.txt"},
            {"url": ftp_server.url("cli/b.txt"), "path": "/data/b.txt", "type": "FILE"},
            {"content": "inline", "path": "/data/c.txt"},
        ],
        "outputs": [
            {"url": f"s3://{s3_bucket}/out", "path": "/data"},
            {"url": f"file://{file_store}/copy-a.txt", "path": "/data/a.txt"},
        ],
        "executors": [{"image": "alpine", "command": ["true"]}],
    }
    done = _run("in", task, root=root, tmp_path=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert (root / "files/data/b.txt").read_bytes() == b"from ftp"
    done = _run("out", task, root=root, tmp_path=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    logs = json.loads((root / ".poiesis/outputs.json").read_text())
    assert logs == [
        {"url": f"s3://{s3_bucket}/out/a.txt", "path": "/data/a.txt", "size_bytes": "7"},
        {"url": f"s3://{s3_bucket}/out/b.txt", "path": "/data/b.txt", "size_bytes": "8"},
        {"url": f"s3://{s3_bucket}/out/c.txt", "path": "/data/c.txt", "size_bytes": "6"},
        {"url": f"file://{file_store}/copy-a.txt", "path": "/data/a.txt", "size_bytes": "7"},
    ]
    assert json.loads((root / ".poiesis/output_types.json").read_text()) == ["DIRECTORY", "FILE"]
    assert not (tmp_path / "termination-log").exists()


def test_failure_writes_one_redacted_line(ftp_server: FtpServer, root: Path, tmp_path: Path) -> None:
    """A failing input exits 1 with one line naming it and the reason, with no password anywhere."""
    task = {"inputs": [{"name": "ref", "url": ftp_server.url("x.txt", password="Leaky-Pw-31"), "path": "/d/x"}]}
    done = _run("in", task, root=root, tmp_path=tmp_path, env={"POIESIS_FILER_RETRY_DELAY": "0.01"})
    assert done.returncode == 1
    line = (tmp_path / "termination-log").read_text()
    assert line.count("\n") == 1
    assert line.startswith("input #0 /d/x (ref): ftp://***@127.0.0.1:")  # the reason; kube.outcome words the line
    assert "530" in line
    assert f"filer in: {line.strip()}" in done.stderr
    assert "Leaky-Pw-31" not in done.stderr + done.stdout + line


def test_partial_outputs_are_not_reported(ftp_server: FtpServer, root: Path, tmp_path: Path) -> None:
    """When a later output fails, outputs.json is not written even though an earlier one uploaded."""
    (root / "files/out").mkdir(parents=True)
    (root / "files/out/ok.txt").write_text("ok")
    task = {"outputs": [
        {"url": ftp_server.url("partial/ok.txt"), "path": "/out/ok.txt"},
        {"url": ftp_server.url("partial/missing.txt"), "path": "/out/missing.txt", "type": "FILE"},
    ]}
    done = _run("out", task, root=root, tmp_path=tmp_path, env={})
    assert done.returncode == 1
    assert "output #1 /out/missing.txt: file does not exist" in (tmp_path / "termination-log").read_text()
    assert not (root / ".poiesis/outputs.json").exists()
    assert FTP_PASSWORD not in done.stderr


def test_unreadable_task_file(root: Path, tmp_path: Path) -> None:
    """A task file that is not JSON is reported, not a traceback."""
    (tmp_path / "bad.json").write_text("{not json")
    done = subprocess.run(
        [sys.executable, "-m", "poiesis.filer", "in", "--task", str(tmp_path / "bad.json"), "--root", str(root),
         "--termination-log", str(tmp_path / "tl")],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 1
    assert "cannot read the task file" in (tmp_path / "tl").read_text()


def test_task_file_of_the_wrong_shape(root: Path, tmp_path: Path) -> None:
    """A task file whose input has no path fails before any transfer, naming the member."""
    done = _run("in", {"inputs": [{"url": "s3://b/k"}]}, root=root, tmp_path=tmp_path, env={})
    assert done.returncode == 1
    line = (tmp_path / "termination-log").read_text().strip()
    assert line.startswith("the task file ") and line.endswith(": inputs[0].path is missing")


def test_sigterm_mid_download_cleans_up(http_server: HttpServer, root: Path, tmp_path: Path) -> None:
    """SIGTERM during a transfer ends the filer with a termination line and no partial file."""
    task_file = tmp_path / "task.json"
    task_file.write_text(json.dumps({"inputs": [{"url": http_server.url("hang/x"), "path": "/d/x"}]}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "poiesis.filer", "in", "--task", str(task_file), "--root", str(root),
         "--termination-log", str(tmp_path / "tl")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "POIESIS_FILER_ALLOW_NETWORKS": "127.0.0.1/32"},
    )
    deadline = time.monotonic() + 20
    while not list(root.rglob("*.part")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(root.rglob("*.part")), "the download never started"
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 1
    assert "input #0 /d/x: terminated by SIGTERM" in (tmp_path / "tl").read_text()
    assert "terminated by SIGTERM" in stderr
    assert [p for p in root.rglob("*") if p.is_file()] == []
