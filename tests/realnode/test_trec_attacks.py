"""Task code attacking TRec on a real kubelet + containerd node, through the TES API only.

The executors share the task volume TRec reads (their redirected stdout/stderr, tof's
outputs.json) and what they print reaches the database through TRec. Each test here is the
attack made for real by an executor in a real container: a link from its stdout file to
TRec's own service-account token, a NUL byte in its output, and the owner's cancel (whose
system log must say so). tests/test_record_reads.py and tests/test_lifecycle.py run the
same attacks on a real directory and the test PostgreSQL without a cluster.
"""

from __future__ import annotations

import json
import time

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from tests.plugins.realnode import BUSYBOX, TesOnNode

pytestmark = pytest.mark.realnode

#: TRec's projected service-account token, as TRec's container mounts it (kube/build.py TOKEN_DIR)
TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"


def executor(command: list[str], **fields: object) -> dict[str, object]:
    return {"image": BUSYBOX, "command": command, **fields}


def system_logs(task: dict) -> list[str]:
    return list(task["logs"][0].get("system_logs", []))


def test_a_stdout_linked_to_the_token_does_not_leak_it(tes_real: TesOnNode) -> None:
    """``ln -sf <TRec's token> $stdout``: the task COMPLETEs, no JWT in GetTask FULL, the log says why."""
    task_id = tes_real.create({"executors": [
        executor(["sh", "-c", f"echo before; ln -sf {TOKEN} /out/log"], stdout="/out/log"),
        executor(["sh", "-c", f"ln -sf {TOKEN} /out/err; echo after"], stderr="/out/err"),
    ]})
    task = tes_real.wait(task_id, timeout=120)
    text = json.dumps(task)
    assert task["state"] == "COMPLETE", task
    assert "eyJ" not in text, "a JWT (TRec's token) reached the task"
    assert [(e.get("stdout") or "", e.get("stderr") or "") for e in task["logs"][0]["logs"]] == [("", ""), ("after\n", "")]
    assert system_logs(task) == ["stdout of executor #0 is not a regular file; not read",
                                 "stderr of executor #1 is not a regular file; not read"], task
    assert tes_real.ended_by(task_id) == "trec"


def test_a_nul_in_stdout_ends_the_task_with_it_replaced(tes_real: TesOnNode) -> None:
    """``printf 'a\\0b'`` to the container log and to a stdout file: COMPLETE at once, each NUL a U+FFFD."""
    asked = time.monotonic()
    task_id = tes_real.create({"executors": [
        executor(["printf", "a\\000b\\n"]),
        executor(["printf", "c\\000d\\n"], stdout="/out/log"),
    ]})
    task = tes_real.wait(task_id, timeout=120)
    took = time.monotonic() - asked
    assert task["state"] == "COMPLETE", task
    logged, redirected = task["logs"][0]["logs"]
    assert "\x00" not in logged["stdout"] and logged["stdout"].startswith("a") and logged["stdout"].endswith("b\n"), logged
    assert redirected["stdout"] == "c\ufffdd\n", redirected
    assert system_logs(task) == [], task
    assert tes_real.ended_by(task_id) == "trec"
    print(f"\nNUL in stdout: COMPLETE after {took:.1f}s")


def test_a_cancelled_task_says_it_was_cancelled(tes_real: TesOnNode) -> None:
    """CancelTask on a running executor: CANCELED with the one cancel line, not the Pod-deleted one."""
    task_id = tes_real.create({"executors": [executor(["sleep", "300"])]})
    tes_real.wait(task_id, until=lambda t: t["state"] == "RUNNING")
    tes_real.cancel(task_id)
    task = tes_real.wait(task_id, timeout=60)
    assert task["state"] == "CANCELED", task
    assert system_logs(task) == ["the task was cancelled (CancelTask)"], task


def test_an_executor_reaches_no_database_credential(tes_real: TesOnNode) -> None:
    """An executor looks for TRec's database URL and its task's secret everywhere it can read: it finds neither.

    TRec gets them as env from Secrets (kube/build.py); the executors run in other containers
    (no shared process namespace, so no /proc/<trec>/environ), mount none of those Secrets and
    only the task volume, which TRec mounts read-only and writes nothing to. What it could not
    find it cannot use against another task; what a credential found anyway could do is in
    tests/test_task_credential.py.
    """
    search = ("cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n' | grep -i -e POIESIS -e postgres;"
              " grep -r -l -i -e postgres -e trec-secret / --exclude-dir=proc --exclude-dir=sys 2>/dev/null | head -20;"
              " ls /var/run/secrets /etc/poiesis 2>&1; echo searched")
    task_id = tes_real.create({"executors": [executor(["sh", "-c", search])]})
    task = tes_real.wait(task_id, timeout=120)
    assert task["state"] == "COMPLETE", task
    found = task["logs"][0]["logs"][0]["stdout"]
    assert found.rstrip().endswith("searched"), found
    with psycopg.connect(tes_real.db_url) as conn:
        secret = conn.execute("SELECT task_secret(%s)", (task_id,)).fetchone()[0]
    password = conninfo_to_dict(tes_real.db_url).get("password")
    assert secret not in found
    assert "POIESIS_DATABASE_URL" not in found and "POIESIS_TASK_SECRET" not in found, found
    assert not password or password not in found
    assert tes_real.ended_by(task_id) == "trec"
