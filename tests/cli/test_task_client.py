"""``poiesis task …`` as a user runs it, against a real ``poiesis serve`` (process mode) on 127.0.0.1.

Every subcommand, its table and --json output, and the exit codes of
docs/cli.md (0 COMPLETE, 1 EXECUTOR_ERROR, 3 SYSTEM_ERROR, 4 CANCELED,
5 refused, 6 unreachable, 7 wait timed out).
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from tests.plugins.servers import free_port


@pytest.fixture
def served(start_serve, tmp_path: Path):
    return start_serve(cwd=tmp_path / "project")


def task(served, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``poiesis task ARGS`` against ``served`` (POIESIS_SERVER), in its working directory."""
    full_env = {k: v for k, v in os.environ.items() if k != "POIESIS_TOKEN"}
    full_env.update({"POIESIS_SERVER": served.url, **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "poiesis.cli", "task", *args], capture_output=True, text=True,
        cwd=served.cwd, env=full_env, timeout=timeout, check=False,
    )


def as_json(done: subprocess.CompletedProcess):
    assert done.stdout, done.stderr
    return json.loads(done.stdout)


def test_run_wait_prints_the_task_and_exits_0_then_logs_show_stdout(served) -> None:
    """run --wait: the id on stderr, a COMPLETE table on stdout, exit 0; logs prints each stream."""
    done = task(served, "run", "busybox", "--name", "hello", "--poll", "0.2", "--wait", "--", "echo", "hello")
    assert done.returncode == 0, done.stderr
    task_id = done.stderr.strip().splitlines()[-1]
    assert "COMPLETE" in done.stdout and "echo hello  (exit 0)" in done.stdout and task_id in done.stdout
    logs = task(served, "logs", task_id)
    assert logs.returncode == 0
    assert logs.stdout.startswith("==> executor 0 stdout (exit 0) <==\nhello\n")
    assert as_json(task(served, "--json", "logs", task_id)) == [{"index": 0, "exit_code": 0, "stdout": "hello\n", "stderr": ""}]


def test_run_moves_local_files_in_and_out_and_passes_env(served) -> None:
    """--input/--output take local paths (made file:// URLs under serve's directory), --env reaches the command."""
    (served.cwd / "in.txt").write_text("abc\n")
    done = task(served, "--json", "run", "busybox", "--input", "/data/in.txt=in.txt",
                "--output", "/data/out.txt=results/out.txt", "--env", "SUFFIX=!", "--tag", "via=cli",
                "--poll", "0.2", "--wait", "--", "sh", "-c", 'printf "%s%s" "$(cat /data/in.txt)" "$SUFFIX" > /data/out.txt')
    assert done.returncode == 0, done.stderr
    body = as_json(done)
    assert body["state"] == "COMPLETE" and body["tags"] == {"via": "cli"}
    assert body["inputs"] == [{"path": "/data/in.txt", "url": f"file://{served.cwd}/in.txt"}]
    assert (served.cwd / "results" / "out.txt").read_text() == "abc!"


def test_exit_codes_follow_the_state(served, tmp_path: Path) -> None:
    """EXECUTOR_ERROR 1, SYSTEM_ERROR 3; a refused task 5 with the server's reason; no command is usage (2)."""
    failed = task(served, "run", "busybox", "--poll", "0.2", "--wait", "--", "sh", "-c", "echo bad >&2; exit 3")
    assert failed.returncode == 1 and "EXECUTOR_ERROR" in failed.stdout
    task_id = failed.stderr.strip().splitlines()[-1]
    assert "==> executor 0 stderr (exit 3) <==\nbad\n" in task(served, "logs", task_id).stdout
    assert task(served, "get", task_id).returncode == 1
    broken = task(served, "run", "busybox", "--input", "/data/x=absent.txt", "--poll", "0.2", "--wait", "--", "true")
    assert broken.returncode == 3 and "SYSTEM_ERROR" in broken.stdout and "absent.txt" in broken.stdout
    refused = task(served, "run", "busybox", "--output", f"/data/x=file://{tmp_path}/elsewhere", "--", "true")
    assert refused.returncode == 5 and "POIESIS_FILER_FILE_ROOTS" in refused.stderr
    assert task(served, "run", "busybox").returncode == 2
    assert task(served, "get", "no-such-task").returncode == 5


def test_create_from_yaml_and_json_files(served) -> None:
    """create -f reads YAML or JSON (or stdin); without --wait it prints only the id."""
    (served.cwd / "t.yaml").write_text("name: from-yaml\nexecutors:\n  - image: busybox\n    command: [echo, yaml]\n")
    (served.cwd / "t.json").write_text(json.dumps({"name": "from-json", "executors": [{"image": "busybox", "command": ["echo", "json"]}]}))
    done = task(served, "create", "-f", "t.yaml", "--poll", "0.2", "--wait")
    assert done.returncode == 0 and "from-yaml" in done.stdout
    created = task(served, "create", "-f", "t.json")
    assert created.returncode == 0 and len(created.stdout.strip()) == 36
    waited = task(served, "--json", "wait", created.stdout.strip(), "--poll", "0.2")
    assert waited.returncode == 0 and as_json(waited)["name"] == "from-json"
    (served.cwd / "bad.yaml").write_text("- not a task\n")
    assert task(served, "create", "-f", "bad.yaml").returncode == 2


def test_get_views_and_json(served) -> None:
    """get shows a table (BASIC) or the task JSON in the view asked for."""
    task_id = task(served, "run", "busybox", "--name", "viewed", "--poll", "0.2", "--wait", "--", "echo", "x").stderr.split()[-1]
    table = task(served, "get", task_id)
    rows = dict(line.split(None, 1) for line in table.stdout.splitlines() if not line.startswith("executor"))
    assert table.returncode == 0 and rows["name"] == "viewed" and rows["state"] == "COMPLETE" and rows["id"] == task_id
    assert as_json(task(served, "--json", "get", task_id, "--view", "MINIMAL")) == {"id": task_id, "state": "COMPLETE"}
    full = as_json(task(served, "--json", "get", task_id, "--view", "FULL"))
    assert full["logs"][0]["logs"][0]["stdout"] == "x\n"


def test_list_filters_and_pages(served) -> None:
    """list --state/--tag/--name-prefix filter; --all follows every page; the table has one row per task."""
    ids = []
    for i, tag in enumerate(("a", "a", "b")):
        done = task(served, "--json", "run", "busybox", "--name", f"batch-{i}", "--tag", f"group={tag}",
                    "--poll", "0.2", "--wait", "--", "true")
        ids.append(as_json(done)["id"])
    task(served, "run", "busybox", "--name", "other", "--poll", "0.2", "--wait", "--", "false")
    listed = task(served, "list")
    assert listed.returncode == 0 and listed.stdout.splitlines()[0].split() == ["ID", "STATE", "NAME", "CREATED"]
    assert len(listed.stdout.splitlines()) == 5
    assert [t["id"] for t in as_json(task(served, "--json", "list", "--tag", "group=a"))] == ids[1::-1]
    assert {t["name"] for t in as_json(task(served, "--json", "list", "--name-prefix", "batch-"))} == {"batch-0", "batch-1", "batch-2"}
    assert [t["name"] for t in as_json(task(served, "--json", "list", "--state", "EXECUTOR_ERROR"))] == ["other"]
    assert len(as_json(task(served, "--json", "list", "--page-size", "1"))) == 1
    assert len(as_json(task(served, "--json", "list", "--page-size", "1", "--all"))) == 4


def test_cancel_and_wait_timeout(served) -> None:
    """wait gives up with 7 after --wait-timeout; cancel ends the task and wait then exits 4."""
    task_id = task(served, "run", "busybox", "--", "sleep", "60").stdout.strip()
    timed_out = task(served, "wait", task_id, "--wait-timeout", "1", "--poll", "0.2")
    assert timed_out.returncode == 7 and "still" in timed_out.stderr
    cancel = task(served, "cancel", task_id)
    assert cancel.returncode == 0 and f"{task_id} cancel requested" in cancel.stdout
    assert task(served, "wait", task_id, "--poll", "0.2").returncode == 4


# ------------------------------------------------------------------- server and token


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's name
        pass

    def do_GET(self) -> None:
        _Recorder.seen.append(self.headers.get("Authorization", ""))
        body = b'{"type":"about:blank","title":"Unauthorized","status":401,"detail":"bad token"}'
        self.send_response(401)
        self.send_header("Content-Type", "application/problem+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def recorder() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_token_is_sent_as_bearer_and_server_flag_wins(recorder: str) -> None:
    """$POIESIS_TOKEN goes out as 'Authorization: Bearer …'; --server overrides $POIESIS_SERVER; 401 is 5."""
    env = {**os.environ, "POIESIS_SERVER": "http://127.0.0.1:1", "POIESIS_TOKEN": "s3cret"}
    done = subprocess.run([sys.executable, "-m", "poiesis.cli", "task", "--server", recorder, "list"],
                          capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 5 and "401 bad token" in done.stderr
    assert _Recorder.seen[-1] == "Bearer s3cret"


def test_unreachable_server_is_6() -> None:
    """Nothing listening: one line naming the server, exit 6."""
    url = f"http://127.0.0.1:{free_port()}"
    done = subprocess.run([sys.executable, "-m", "poiesis.cli", "task", "--server", url, "get", "x"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 6 and f"cannot reach {url}/ga4gh/tes/v1" in done.stderr


def test_watch_follows_one_task_until_done_and_the_feed_of_all(served) -> None:
    """watch ID --until-done prints the task's events from its creation and exits by its end; watch follows new tasks."""
    follower = subprocess.Popen(
        [sys.executable, "-m", "poiesis.cli", "task", "--json", "watch", "--name-prefix", "watched", "--since", "0"],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "POIESIS_SERVER": served.url}, cwd=served.cwd,
    )
    try:
        failing = task(served, "run", "busybox", "--name", "watched-1", "--", "sh", "-c", "sleep 1; exit 3")
        task_id = failing.stdout.strip()
        task(served, "run", "busybox", "--name", "other", "--", "true")
        done = task(served, "watch", task_id, "--until-done", timeout=60)
        assert done.returncode == 1, done.stderr
        states = [line.split()[2] for line in done.stdout.splitlines()]
        assert states[0] == "QUEUED" and states[-1] == "EXECUTOR_ERROR" and "RUNNING" in states
        assert all(task_id in line for line in done.stdout.splitlines())
        seen = [json.loads(follower.stdout.readline()) for _ in range(len(states))]
    finally:
        follower.terminate()
        follower.wait(timeout=10)
    assert [(e["id"], e["state"]) for e in seen] == [(task_id, s) for s in states]
    assert all(e["name"] == "watched-1" and isinstance(e["seq"], int) for e in seen)
    assert task(served, "watch", "--until-done").returncode == 2, "--until-done needs an id"
