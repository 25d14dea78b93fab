"""The dashboard in a real browser (headless Chromium) against ``poiesis serve`` with Basic auth.

Tasks run on the local backend in process mode, one at a time, so a task waits QUEUED behind
another long enough to be seen. Screenshots of the list and of a task page go to the test's
tmp dir (docs/dashboard-*.png are copies of these).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.plugins.auth import PASSWORDS, basic
from tests.plugins.serve import Served


@pytest.fixture
def served(start_serve: Callable[..., Served], password_file: Path) -> Served:
    return start_serve(env={"POIESIS_AUTH": "basic", "POIESIS_AUTH_BASIC_FILE": str(password_file),
                            "POIESIS_AUTH_ADMIN_USERS": "root", "POIESIS_LOCAL_MAX_TASKS": "1"})


def _submit(served: Served, user: str, name: str, script: str, **extra: Any) -> str:
    task = {"name": name, "executors": [{"image": "busybox", "command": ["sh", "-c", script]}], **extra}
    response = requests.post(f"{served.tes}/tasks", json=task, headers=basic(user), timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["id"]


def _state(served: Served, task_id: str, user: str = "alice") -> str:
    return requests.get(f"{served.tes}/tasks/{task_id}", headers=basic(user), timeout=10).json()["state"]


def _open(window: Any, served: Served, path: str, user: str = "alice") -> None:
    """Load ``path`` as ``user``: the browser's own Basic authentication, credentials in the URL."""
    window.get(served.url.replace("http://", f"http://{user}:{PASSWORDS[user]}@") + path)
    WebDriverWait(window, 15).until(lambda w: w.find_element(By.ID, "live").text == "Live")


def _row_state(window: Any, task_id: str) -> str | None:
    return _text(window, f"#task-{task_id} .state")


def _text(window: Any, selector: str) -> str | None:
    """The text of the element ``selector`` names, read in one script (the page swaps elements in as it updates)."""
    return window.execute_script("const e = document.querySelector(arguments[0]); return e && e.textContent.trim()",
                                 selector)


def test_a_row_goes_queued_running_complete_without_a_reload(served: Served, browser, tmp_path: Path) -> None:
    """A task submitted through the API appears and moves QUEUED -> RUNNING -> COMPLETE in place, unreloaded."""
    window = browser()
    _submit(served, "alice", "warm-up", "true")
    _open(window, served, "/dashboard/")
    window.execute_script("window.notReloaded = true")
    blocker = _submit(served, "alice", "index-reference", "sleep 3", tags={"project": "demo"})
    task_id = _submit(served, "alice", "align-sample-7", "echo aligning; sleep 2; echo done",
                      tags={"project": "demo", "sample": "7"})
    seen: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not seen or seen[-1] != "COMPLETE"):
        state = _row_state(window, task_id)
        if state and (not seen or seen[-1] != state):
            seen.append(state)
        time.sleep(0.05)
    # INITIALIZING, when the runner's write of it lands before its RUNNING, is there too; it is shown, never skipped
    assert [s for s in seen if s != "INITIALIZING"] == ["QUEUED", "RUNNING", "COMPLETE"], seen
    assert window.execute_script("return window.notReloaded === true"), "the page was not reloaded"
    assert _state(served, blocker) == "COMPLETE"
    WebDriverWait(window, 10).until(lambda w: _text(w, '[data-count="COMPLETE"]') == "3")
    failing = _submit(served, "alice", "call-variants-chr2", "echo no reference >&2; exit 3", tags={"project": "demo"})
    running = _submit(served, "alice", "merge-cohort", "sleep 30", tags={"project": "demo"})
    waiting = _submit(served, "alice", "report", "true", tags={"project": "demo"})
    WebDriverWait(window, 30).until(lambda w: (_row_state(w, failing), _row_state(w, running), _row_state(w, waiting))
                                    == ("EXECUTOR_ERROR", "RUNNING", "QUEUED"))
    WebDriverWait(window, 10).until(lambda w: _text(w, '[data-count="ALL"]') == "6")
    time.sleep(2)  # the new rows' highlight fades
    window.save_screenshot(str(tmp_path / "dashboard-list.png"))


def test_cancel_a_running_task_from_its_page(served: Served, browser, tmp_path: Path) -> None:
    """The owner's Cancel button on a RUNNING task's page ends it CANCELED; the page follows without a reload."""
    window = browser(1280, 1000)
    task_id = _submit(served, "alice", "call-variants", "echo calling variants on chr1; sleep 600",
                      description="Joint calling over the cohort", tags={"project": "demo"},
                      inputs=[{"path": "/data/cohort.txt", "content": "sample-1\nsample-2\n"}])
    deadline = time.monotonic() + 30
    while _state(served, task_id) != "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.1)
    _open(window, served, f"/dashboard/tasks/{task_id}")
    assert _text(window, "#task-state") == "RUNNING"
    window.save_screenshot(str(tmp_path / "dashboard-task.png"))
    window.find_element(By.ID, "cancel").click()
    WebDriverWait(window, 30).until(lambda w: _text(w, "#task-state") == "CANCELED")
    assert _state(served, task_id) == "CANCELED"
    assert _text(window, "#cancel") is None, "no Cancel button on an ended task"
    window.save_screenshot(str(tmp_path / "dashboard-task-canceled.png"))


def test_another_user_s_task_is_not_shown(served: Served, browser) -> None:
    """bob's task is neither listed for alice, nor added live, nor readable at its URL; an admin sees it."""
    window = browser()
    mine = _submit(served, "alice", "mine", "true")
    theirs = _submit(served, "bob", "theirs", "true")
    _open(window, served, "/dashboard/")
    later = _submit(served, "bob", "theirs-later", "true")
    also_mine = _submit(served, "alice", "mine-later", "true")
    WebDriverWait(window, 15).until(lambda w: _row_state(w, also_mine) is not None)
    time.sleep(1)  # bob's events, had they been sent, would have arrived by now
    assert _row_state(window, mine) is not None
    assert _row_state(window, theirs) is None and _row_state(window, later) is None
    assert "theirs" not in window.page_source
    _open(window, served, f"/dashboard/tasks/{mine}")
    window.get(f"{served.url}/dashboard/tasks/{theirs}")
    assert "There is no task" in window.page_source
    admin = browser()
    _open(admin, served, "/dashboard/", user="root")
    assert _row_state(admin, theirs) is not None and _row_state(admin, mine) is not None


def test_filters_keyboard_and_a_phone_sized_screen(served: Served, browser, tmp_path: Path) -> None:
    """Every field is labelled; typing a name prefix and Enter filters; a phone-wide page does not scroll sideways."""
    window = browser(390, 844)
    _submit(served, "alice", "align-a", "true", tags={"project": "demo"})
    _submit(served, "alice", "call-b", "true")
    _open(window, served, "/dashboard/")
    unlabelled = window.execute_script(
        "return [...document.querySelectorAll('input, select')].filter(e => !e.labels.length).map(e => e.name)")
    assert unlabelled == []
    field = window.find_element(By.ID, "f-name")
    field.send_keys("align", Keys.ENTER)
    WebDriverWait(window, 10).until(expected_conditions.url_contains("name_prefix=align"))
    names = [a.text for a in window.find_elements(By.CSS_SELECTOR, "#rows td.name a")]
    assert names == ["align-a"]
    assert window.execute_script("return document.documentElement.scrollWidth") <= 390
    window.save_screenshot(str(tmp_path / "dashboard-phone.png"))
