"""Liveness, readiness, metrics and JSON logs of a real ``poiesis api`` process on real PostgreSQL."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import requests

from tests.plugins.api import clean_env
from tests.plugins.auth import basic
from tests.plugins.servers import free_port

BASE = "/ga4gh/tes/v1"
TASK = {"executors": [{"image": "alpine", "command": ["true"]}]}


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one series in a Prometheus text page (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = re.match(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        got = ",".join(sorted(p for p in (match.group(2) or "").split(",") if p))
        if got == want:
            return float(match.group(3))
    return 0.0


def _auth_env(db_url: str, password_file: Path, **extra: str) -> dict[str, str]:
    return clean_env(POIESIS_DATABASE_URL=db_url, POIESIS_AUTH="basic",
                     POIESIS_AUTH_BASIC_FILE=str(password_file), **extra)


def test_probes_need_no_credentials_but_a_known_host(start_api, db_url: str, password_file: Path) -> None:
    """/healthz, /readyz and /metrics answer without credentials; TES paths still ask; a foreign Host is refused."""
    url, _ = start_api(env=_auth_env(db_url, password_file))
    for path in ("/healthz", "/readyz", "/metrics"):
        assert requests.get(url + path, timeout=10).status_code == 200, path
    assert requests.get(url + "/readyz", timeout=10).json() == {"status": "ready"}
    assert requests.get(url + f"{BASE}/tasks", timeout=10).status_code == 401
    refused = requests.get(url + "/healthz", headers={"Host": "evil.example"}, timeout=10)
    assert refused.status_code == 400 and "POIESIS_ALLOWED_HOSTS" in refused.text
    assert requests.post(url + "/healthz", timeout=10).status_code == 405


def test_readiness_follows_the_database(start_api, tmp_path: Path) -> None:
    """With the database unreachable the API is alive but not ready, and TES requests answer 503."""
    dead = f"postgresql://poiesis@127.0.0.1:{free_port()}/poiesis?connect_timeout=1"
    env = clean_env(POIESIS_DATABASE_URL=dead, POIESIS_DB_TIMEOUT="1")
    url, _ = start_api(env=env, wait=False)
    deadline = time.monotonic() + 60
    while True:
        try:
            live = requests.get(url + "/healthz", timeout=10)
            break
        except requests.ConnectionError:
            assert time.monotonic() < deadline
            time.sleep(0.2)
    assert live.status_code == 200
    ready = requests.get(url + "/readyz", timeout=15)
    assert ready.status_code == 503 and ready.json()["status"] == "unavailable"
    assert requests.get(url + f"{BASE}/tasks", timeout=15).status_code == 503


def test_metrics_count_operations_statuses_and_task_ends(start_api, db_url: str, password_file: Path) -> None:
    """Requests by operationId and status (refusals included), tasks created and ended by state and writer."""
    url, _ = start_api(env=_auth_env(db_url, password_file))
    alice = basic("alice")
    ids = [requests.post(f"{url}{BASE}/tasks", json=TASK, headers=alice, timeout=10).json()["id"] for _ in range(2)]
    assert requests.get(f"{url}{BASE}/tasks", headers=alice, timeout=10).status_code == 200
    assert requests.get(f"{url}{BASE}/tasks/nope", headers=alice, timeout=10).status_code == 404
    assert requests.get(f"{url}{BASE}/tasks", timeout=10).status_code == 401
    assert requests.post(f"{url}{BASE}/tasks/{ids[0]}:cancel", headers=alice, timeout=10).status_code == 200
    page = requests.get(url + "/metrics", timeout=10)
    assert page.headers["content-type"].startswith("text/plain")
    text = page.text
    assert sample(text, "poiesis_api_requests_total", operation="CreateTask", status="200") == 2
    assert sample(text, "poiesis_api_requests_total", operation="ListTasks", status="200") == 1
    assert sample(text, "poiesis_api_requests_total", operation="ListTasks", status="401") == 1
    assert sample(text, "poiesis_api_requests_total", operation="GetTask", status="404") == 1
    assert sample(text, "poiesis_api_requests_total", operation="CancelTask", status="200") == 1
    assert sample(text, "poiesis_api_request_duration_seconds_count", operation="CreateTask", status="200") == 2
    assert sample(text, "poiesis_tasks_created_total") == 2
    assert sample(text, "poiesis_tasks_ended_total", state="CANCELED", ended_by="api") == 1


def test_metrics_add_up_over_workers(start_api, db_url: str, tmp_path: Path) -> None:
    """--workers 2 with PROMETHEUS_MULTIPROC_DIR: /metrics counts the requests of both workers."""
    prom = tmp_path / "prom"
    prom.mkdir()
    url, _ = start_api("--workers", "2", env=clean_env(POIESIS_DATABASE_URL=db_url, PROMETHEUS_MULTIPROC_DIR=str(prom)))
    session_count = 12
    for _ in range(session_count):  # fresh connections: uvicorn's workers share the socket
        requests.post(f"{url}{BASE}/tasks", json=TASK, headers={"Connection": "close"}, timeout=10)
    text = requests.get(url + "/metrics", timeout=10).text
    assert sample(text, "poiesis_api_requests_total", operation="CreateTask", status="200") == session_count
    assert sample(text, "poiesis_tasks_created_total") == session_count
    assert len({p.name.split("_")[-1] for p in prom.glob("*.db")}) >= 1


def test_json_logs_carry_the_task_id(start_api, db_url: str, tmp_path: Path) -> None:
    """POIESIS_LOG_FORMAT=json: every line is a JSON object; the lines about a task name it."""
    url, _ = start_api(env=clean_env(POIESIS_DATABASE_URL=db_url, POIESIS_LOG_FORMAT="json"))
    task_id = requests.post(f"{url}{BASE}/tasks", json=TASK, timeout=10).json()["id"]
    requests.post(f"{url}{BASE}/tasks/{task_id}:cancel", timeout=10)
    time.sleep(0.5)
    lines = [ln for p in tmp_path.glob("api-*.log") for ln in p.read_text().splitlines() if ln.strip()]
    objects = [json.loads(ln) for ln in lines if ln.startswith("{")]
    assert objects and all({"time", "level", "logger", "message"} <= set(o) for o in objects)
    about = [o for o in objects if o.get("task_id") == task_id]
    assert {o["message"] for o in about} >= {"created task for anonymous", "cancel requested"}
    assert any(o["logger"] == "uvicorn.access" for o in objects)
    # lines that are not JSON come only from before logging is configured (the start banner)
    assert all(ln.startswith("poiesis:") for ln in lines if not ln.startswith("{"))
