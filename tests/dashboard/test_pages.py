"""The dashboard's pages over HTTP, without a browser: the guard's authentication, ownership, cross-site posts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from tests.plugins.auth import basic
from tests.plugins.serve import Served


@pytest.fixture
def served(start_serve: Callable[..., Served], password_file: Path) -> Served:
    return start_serve(env={"POIESIS_AUTH": "basic", "POIESIS_AUTH_BASIC_FILE": str(password_file)})


def _running(served: Served, user: str) -> str:
    task = {"name": "long", "executors": [{"image": "busybox", "command": ["sleep", "600"]}]}
    response = requests.post(f"{served.tes}/tasks", json=task, headers=basic(user), timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["id"]


def _state(served: Served, task_id: str, user: str) -> str:
    return requests.get(f"{served.tes}/tasks/{task_id}", headers=basic(user), timeout=10).json()["state"]


@pytest.mark.parametrize("path", ["/dashboard/", "/dashboard/counts", "/dashboard/events", "/dashboard/static/dashboard.js",
                                  "/dashboard/tasks/x"])
def test_every_dashboard_path_needs_credentials(served: Served, path: str) -> None:
    """Without credentials every path under /dashboard/ is the guard's 401 with a Basic challenge (a browser asks)."""
    response = requests.get(served.url + path, timeout=10)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic")


def test_pages_answer_with_a_strict_content_security_policy(served: Served) -> None:
    """Pages allow scripts, styles and connections from this origin only, and no framing."""
    response = requests.get(served.url + "/dashboard/", headers=basic("alice"), timeout=10)
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "default-src 'self'" in policy
    bad = requests.get(served.url + "/dashboard/?state=DONE", headers=basic("alice"), timeout=10)
    assert bad.status_code == 400 and "state must be one of" in bad.text


def test_another_user_cannot_cancel_through_the_dashboard(served: Served) -> None:
    """bob's POST to cancel alice's task is a 404 and the task runs on."""
    task_id = _running(served, "alice")
    response = requests.post(f"{served.url}/dashboard/tasks/{task_id}/cancel", headers=basic("bob"), timeout=10,
                             allow_redirects=False)
    assert response.status_code == 404
    assert _state(served, task_id, "alice") not in ("CANCELING", "CANCELED")
    mine = requests.post(f"{served.url}/dashboard/tasks/{task_id}/cancel", headers=basic("alice"), timeout=10,
                         allow_redirects=False)
    assert mine.status_code == 303 and mine.headers["location"].endswith(f"/dashboard/tasks/{task_id}")
    assert _state(served, task_id, "alice") in ("CANCELING", "CANCELED")


def test_a_cross_site_cancel_is_refused(served: Served) -> None:
    """A form on another site posting to the cancel button with the browser's credentials is refused (403)."""
    task_id = _running(served, "alice")
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        response = requests.post(f"{served.url}/dashboard/tasks/{task_id}/cancel", headers={**basic("alice"), **headers},
                                 timeout=10, allow_redirects=False)
        assert response.status_code == 403, headers
    assert _state(served, task_id, "alice") not in ("CANCELING", "CANCELED")
