"""Helpers for the cluster tests: TES executors KWOK understands, and polling the API for results."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from starlette.testclient import TestClient

from tests.plugins.kubetasks import wait_for

BASE = "/ga4gh/tes/v1"


def executor(code: int = 0, run_ms: int = 100, **extra: Any) -> dict[str, Any]:
    """A TES executor whose simulated run (KWOK) lasts run_ms and exits with code."""
    return {
        "image": "alpine:3",
        "command": ["sh", "-c", "true"],
        "env": {"POIESIS_KWOK_EXIT_CODE": str(code), "POIESIS_KWOK_RUN_MS": str(run_ms)},
        **extra,
    }


def create(tes: TestClient, *executors: dict[str, Any], **fields: Any) -> str:
    resp = tes.post("/tasks", json={"executors": list(executors), **fields})
    assert resp.status_code == 200, resp.text
    return resp.json()["id"]


def full(tes: TestClient, task_id: str) -> dict[str, Any]:
    """The FULL view; {"state": None} while the API answers anything but 200 (a database outage)."""
    resp = tes.get(f"/tasks/{task_id}", params={"view": "FULL"})
    return resp.json() if resp.status_code == 200 else {"state": None}


def terminal(tes: TestClient, task_id: str, *, timeout: float = 60) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        task = full(tes, task_id)
        return task if task["state"] in {"COMPLETE", "EXECUTOR_ERROR", "SYSTEM_ERROR", "CANCELED", "PREEMPTED"} else None

    return wait_for(done, timeout=timeout, what=f"task {task_id} to end")


def exit_codes(task: dict[str, Any]) -> list[int]:
    return [log["exit_code"] for log in task["logs"][0]["logs"]]


def ended_by(db_url: str, task_id: str) -> str | None:
    """Who wrote the task's terminal state (tasks.ended_by; not in the TES API)."""
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT ended_by FROM tasks WHERE id = %s", (task_id,)).fetchone()[0]


def when(stamp: str) -> datetime:
    """An RFC 3339 time from TES or from the API server."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
