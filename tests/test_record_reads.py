"""What TRec reads from the task volume cannot reach past it, stall it, or stall the task's record.

The executors write the task volume (``/transfer`` in the Pod); TRec reads their
redirected stdout/stderr and the output filer's ``outputs.json`` from it. Each
test here plants on a real directory what an executor could (a symbolic link to
TRec's service-account token, a link in a parent directory, a FIFO, NUL bytes,
a file name that is not UTF-8) and runs the real ``record.Recorder`` on the real
store (the test PostgreSQL), then reads the task back as GetTask FULL shows it.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from poiesis import lifecycle, sanitize
from poiesis.kube.outcome import Ended, ExecutorResult, pod_outcome
from poiesis.record import Recorder
from poiesis.states import State
from poiesis.store import Store
from tests.kube.pods import T0, done, pod, running
from tests.tasks import tes_task

T0_DT = datetime.fromisoformat(T0)
SECRET = "eyJhbGciOiJSUzI1NiJ9.the-service-account-token-of-trec"


def executor_pod(*, stdout: str | None = "/out/log", stderr: str | None = None, code: int = 0) -> dict[str, Any]:
    """A Pod whose one executor ended (``code``) and whose tof ended too, the executor's stdio redirected as given."""
    seen = pod(executors=1, init={"trec": running(1), "tif": done(1, 2), "executor-0": done(3, 4, code)},
               main=done(5, 6), phase="Running")
    env = [{"name": f"POIESIS_{name.upper()}", "value": path}
           for name, path in (("stdout", stdout), ("stderr", stderr)) if path]
    for container in seen["spec"]["initContainers"]:
        if container["name"] == "executor-0":
            container["env"] = env
    return seen


@pytest.fixture
def transfer(tmp_path: Path) -> Path:
    """A task volume as TRec sees it: ``files/`` (the executors') and ``.poiesis/`` (the filers')."""
    root = tmp_path / "transfer"
    (root / "files" / "out").mkdir(parents=True)
    (root / ".poiesis").mkdir()
    return root


@pytest.fixture
def token(tmp_path: Path) -> Path:
    """TRec's own service-account token, outside the task volume."""
    path = tmp_path / "serviceaccount" / "token"
    path.parent.mkdir()
    path.write_text(SECRET)
    return path


def record(task_store: Store, transfer: Path, seen: dict[str, Any], *, outputs: bool = True) -> dict[str, Any]:
    """A new task, its Pod recorded by TRec's recorder reading ``transfer``; the task as GetTask FULL shows it."""
    task_id = task_store.create_task(tes_task({"executors": [{"image": "alpine", "command": ["true"]}]}))
    if outputs and not layout_outputs(transfer).exists() and not layout_outputs(transfer).is_symlink():
        layout_outputs(transfer).write_text("[]")
    Recorder(store=task_store, transfer_dir=transfer, log_tail_bytes=1000).record(task_id, seen, pod_outcome(seen))
    task: dict[str, Any] = task_store.get_task(task_id, view="FULL")
    return task


def layout_outputs(transfer: Path) -> Path:
    return transfer / ".poiesis" / "outputs.json"


def system_logs(task: dict[str, Any]) -> list[str]:
    return list(task["logs"][0].get("system_logs", []))


def the_log(task: dict[str, Any]) -> dict[str, Any]:
    [entry] = task["logs"][0]["logs"]
    return dict(entry)


# -- links and special files: finding 1 ------------------------------------------


def test_a_stdout_symlink_to_the_token_is_not_read(task_store, transfer, token) -> None:
    """``ln -sf <token> $stdout``: the task COMPLETEs, its stdout is not the token, the log says why."""
    (transfer / "files" / "out" / "log").symlink_to(token)
    task = record(task_store, transfer, executor_pod())
    assert SECRET not in json.dumps(task)
    assert task["state"] == State.COMPLETE
    assert "stdout" not in the_log(task) or the_log(task)["stdout"] in ("", None)
    assert system_logs(task) == ["stdout of executor #0 is not a regular file; not read"]


def test_a_symlinked_directory_above_stderr_is_not_followed(task_store, transfer, token) -> None:
    """A link in any component (``/out`` itself pointing at the token's directory) is not followed either."""
    (transfer / "files" / "out").rmdir()
    (transfer / "files" / "out").symlink_to(token.parent)
    task = record(task_store, transfer, executor_pod(stdout=None, stderr="/out/token"))
    assert SECRET not in json.dumps(task)
    assert system_logs(task) == ["stderr of executor #0 is not a regular file; not read"]


def test_a_fifo_as_stdout_does_not_block_trec(task_store, transfer) -> None:
    """A FIFO with no writer where stdout was: opening it for reading would wait forever; TRec goes on."""
    os.mkfifo(transfer / "files" / "out" / "log")
    result: list[dict[str, Any]] = []
    worker = threading.Thread(target=lambda: result.append(record(task_store, transfer, executor_pod())), daemon=True)
    worker.start()
    worker.join(30)
    assert result, "the recorder blocked on a FIFO"
    assert result[0]["state"] == State.COMPLETE
    assert system_logs(result[0]) == ["stdout of executor #0 is not a regular file; not read"]


def test_a_huge_stdout_gives_its_bounded_tail(task_store, transfer) -> None:
    """A sparse 64 GiB stdout: only its last ``log_tail_bytes`` are read and stored."""
    with open(transfer / "files" / "out" / "log", "wb") as f:
        f.truncate(64 << 30)
        f.write(b"")
    with open(transfer / "files" / "out" / "log", "ab") as f:
        f.write(b"the end\n")
    task = record(task_store, transfer, executor_pod())
    stdout = the_log(task)["stdout"]
    assert stdout.endswith("the end\n") and len(stdout.encode()) <= 1000


def test_outputs_json_linked_to_a_secret_is_not_read(task_store, transfer, tmp_path) -> None:
    """outputs.json a link to a file of TRec's: not followed; COMPLETE without output logs, saying why."""
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps([{"url": SECRET, "path": "/out/x", "size_bytes": "1"}]))
    layout_outputs(transfer).symlink_to(secret)
    task = record(task_store, transfer, executor_pod(stdout=None))
    assert SECRET not in json.dumps(task)
    assert task["state"] == State.COMPLETE
    assert task["logs"][0]["outputs"] == []
    assert system_logs(task) == [lifecycle.outputs_unreadable(".poiesis/outputs.json is a symbolic link; refusing to follow it")]


@pytest.mark.parametrize(("content", "why"), [
    ("[" * 100_000 + "]" * 100_000, "nested deeper than 2"),
    ('{"url": "s3://b/x"}', "not a list of output file logs"),
    ('[{"url": "s3://b/x", "path": "/out/x"}]', "entry 0 has no size_bytes"),
    ('[{"url": "s3://b/x", "path": "/out/x", "size_bytes": "-1"}]', "entry 0 has an invalid size_bytes"),
    ('[{"url": 1, "path": "/out/x", "size_bytes": "1"}]', "entry 0 has a url that is not a string"),
    ("[1,", "not JSON"),
])
def test_outputs_json_is_parsed_with_bounds(task_store, transfer, content, why) -> None:
    """Deep nesting, the wrong shape, bad entries: COMPLETE without output logs and one line saying why."""
    layout_outputs(transfer).write_text(content)
    task = record(task_store, transfer, executor_pod(stdout=None))
    assert task["state"] == State.COMPLETE
    assert task["logs"][0]["outputs"] == []
    [line] = system_logs(task)
    assert line.startswith("the output filer's outputs.json cannot be used:") and why in line, line


def test_outputs_json_larger_than_the_bound_is_not_read(task_store, transfer) -> None:
    """A sparse outputs.json far past the bound is refused by its size, not read."""
    with open(layout_outputs(transfer), "wb") as f:
        f.truncate(8 << 30)
    task = record(task_store, transfer, executor_pod(stdout=None))
    [line] = system_logs(task)
    assert "larger than" in line


# -- what reaches the store: finding 2 --------------------------------------------


def test_a_nul_in_stdout_ends_the_task_with_the_tail_sanitized(task_store, transfer) -> None:
    """``printf 'a\\0b'``: PostgreSQL refuses NUL in text; the task still ends COMPLETE, stdout made storable."""
    (transfer / "files" / "out" / "log").write_bytes(b"a\x00b\xff\n")
    task = record(task_store, transfer, executor_pod())
    assert task["state"] == State.COMPLETE
    assert the_log(task)["stdout"] == "a\ufffdb\ufffd\n"
    assert system_logs(task) == []


def test_a_non_utf8_output_name_from_tof_is_stored(task_store, transfer) -> None:
    """A file name that is not UTF-8 (a lone surrogate in tof's JSON) and a NUL in a URL: output logs still land."""
    layout_outputs(transfer).write_text(
        json.dumps([{"url": "s3://b/\udcff\x00", "path": "/out/\udcff", "size_bytes": "3"}]))
    task = record(task_store, transfer, executor_pod(stdout=None))
    assert task["state"] == State.COMPLETE
    assert task["logs"][0]["outputs"] == [{"url": "s3://b/\ufffd\ufffd", "path": "/out/\ufffd", "size_bytes": "3"}]


def test_a_write_the_database_refuses_becomes_a_line_not_a_loop(task_store, transfer) -> None:
    """An executor log PostgreSQL refuses for its data (an exit code past integer): the task still ends, saying so."""
    task_id = task_store.create_task(tes_task({"executors": [{"image": "alpine", "command": ["true"]}]}))
    layout_outputs(transfer).write_text("[]")
    ended = Ended(lifecycle.completed(), (ExecutorResult(0, 1 << 40, T0_DT, T0_DT),), T0_DT, T0_DT)
    landed = Recorder(store=task_store, transfer_dir=transfer).record(task_id, None, ended)
    task = task_store.get_task(task_id, view="FULL")
    assert landed == task["state"] == State.COMPLETE
    assert system_logs(task) == ["the log of executor #0 was refused by the database (NumericValueOutOfRange); not stored"]


def test_an_exit_code_an_executor_claims_past_255_is_not_taken(task_store, transfer) -> None:
    """An executor writes ``poiesis-exit-code=2^40`` to its own termination log: the container's code is recorded."""
    seen = executor_pod(stdout=None)
    state = seen["status"]["initContainerStatuses"][2]["state"]
    state["terminated"].update(exitCode=3, message="poiesis-exit-code=1099511627776\n")
    task = record(task_store, transfer, seen)
    assert (task["state"], the_log(task)["exit_code"]) == (State.EXECUTOR_ERROR, 3)
    assert system_logs(task) == ["executor #0 exited with code 3"]


def test_every_text_to_the_store_is_storable() -> None:
    """The one sanitizer TRec's texts pass: no NUL, valid UTF-8, bounded (tests/test_sanitize.py has the rest)."""
    assert sanitize.storable(b"\x00\xff", 100) == "\ufffd\ufffd"

