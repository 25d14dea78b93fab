"""A database that goes away: 503 problem documents, no hang, and recovery when it returns."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pgserver
from pgserver.postgres_server import PostgresServer

from poiesis import store
from poiesis.api.tes.context import Context
from tests.plugins.api import api_store, serving


def _stop(data_dir: Path) -> None:
    pid = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
    os.kill(pid, signal.SIGINT)  # fast shutdown of the server this test started
    deadline = time.monotonic() + 30
    while (data_dir / "postmaster.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.1)


def test_database_outage_is_503_and_the_api_recovers(tmp_path):
    """While PostgreSQL is down every call is a quick 503 problem; after it returns, 200 again."""
    data_dir = tmp_path / "pg"
    url = pgserver.get_server(data_dir, cleanup_mode=None).get_uri()
    store.migrate(url)
    try:
        with serving(Context(store=api_store(url, timeout=2.0))) as client:
            task = {"executors": [{"image": "alpine", "command": ["true"]}]}
            task_id = client.post("/tasks", json=task).json()["id"]

            _stop(data_dir)
            for call in (lambda: client.get(f"/tasks/{task_id}"), lambda: client.post("/tasks", json=task),
                         lambda: client.get("/tasks")):
                started = time.monotonic()
                response = call()
                assert response.status_code == 503, response.text
                assert response.headers["content-type"].startswith("application/problem+json")
                assert response.json()["status"] == 503
                assert time.monotonic() - started < 10

            PostgresServer(data_dir.resolve(), cleanup_mode=None)  # get_server would hand back the stopped handle
            deadline = time.monotonic() + 30
            while (response := client.get(f"/tasks/{task_id}")).status_code != 200 and time.monotonic() < deadline:
                time.sleep(0.5)
            assert response.status_code == 200 and response.json()["state"] == "QUEUED"
    finally:
        if (data_dir / "postmaster.pid").exists():
            _stop(data_dir)
