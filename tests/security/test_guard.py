"""Limits, Host/Origin checks and hostile input: each refused with a 4xx problem naming the cause."""

from __future__ import annotations

import base64

import pytest
from starlette.testclient import TestClient

from poiesis import store
from poiesis.config.security import Limits, SecuritySettings
from tests.api.test_api import assert_problem
from tests.tasks import tes_task

BASE = "/ga4gh/tes/v1"
SMALL = Limits(body_bytes=64 * 1024, executors=2, inputs=2, outputs=2, volumes=2, tags=2, content_bytes=100,
               list_bytes=2500, json_depth=16)


@pytest.fixture
def limited(serve_app) -> TestClient:
    security = SecuritySettings(limits=SMALL, allowed_hosts=("tes.example.org",),
                                allowed_origins=("https://portal.example.org",))
    return serve_app(security=security)


def _task(**extra) -> dict:
    return {"executors": [{"image": "alpine", "command": ["true"]}], **extra}


@pytest.mark.parametrize(
    ("task", "needle"),
    [
        (_task(executors=[{"image": "a", "command": ["true"]}] * 3), "limit executors"),
        (_task(inputs=[{"path": f"/in/{i}", "content": "x"} for i in range(3)]), "limit inputs"),
        (_task(outputs=[{"path": f"/out/{i}", "url": "s3://b/k"} for i in range(3)]), "limit outputs"),
        (_task(volumes=["/a", "/b", "/c"]), "limit volumes"),
        (_task(tags={"a": "", "b": "", "c": ""}), "limit tags"),
        (_task(inputs=[{"path": "/in/x", "content": "x" * 101}]), "limit content_bytes"),
    ],
)
def test_each_count_and_size_limit_refuses_with_its_name(limited: TestClient, task: dict, needle: str) -> None:
    """A task over a configured count or content size is a 400 naming the limit."""
    assert_problem(limited.post("/tasks", json=task), 400, needle)


def test_body_over_the_limit_is_413(limited: TestClient) -> None:
    """A body over body_bytes is refused before it is parsed, declared or streamed."""
    big = _task(description="x" * 70_000)
    assert_problem(limited.post("/tasks", json=big), 413, "body_bytes")

    def chunks():
        for _ in range(20):
            yield b" " * 8192

    streamed = limited.post("/tasks", content=chunks(), headers={"content-type": "application/json"})
    assert_problem(streamed, 413, "body_bytes")


def test_list_pages_stop_at_the_byte_budget_and_continue(limited: TestClient, task_store: store.Store) -> None:
    """With list_bytes=2500 and ~1 KiB tasks a FULL page holds 2 of 5 and a token; the walk sees all."""
    created = [task_store.create_task(tes_task(_task(description="d" * 1000))) for _ in range(5)]
    seen, token, pages = [], None, 0
    while True:
        params = {"view": "FULL", **({"page_token": token} if token else {})}
        response = limited.get("/tasks", params=params)
        assert len(response.content) <= 2500 + 200
        body = response.json()
        seen += [t["id"] for t in body["tasks"]]
        pages += 1
        token = body.get("next_page_token")
        if not token:
            break
    assert seen == created[::-1] and pages == 3


def test_host_header_must_name_this_server(limited: TestClient) -> None:
    """A foreign Host (DNS rebinding) is 400; loopback names and configured names pass."""
    assert_problem(limited.get("/tasks", headers={"host": "attacker.example"}), 400, "POIESIS_ALLOWED_HOSTS")
    for host in ("127.0.0.1:8000", "localhost", "[::1]:8000", "tes.example.org", "TES.example.org:443"):
        assert limited.get("/tasks", headers={"host": host}).status_code == 200, host


def test_cross_site_state_changes_are_refused(limited: TestClient) -> None:
    """A POST from a foreign Origin (or Sec-Fetch-Site: cross-site) is 403; reads and same-origin pass."""
    task_id = limited.post("/tasks", json=_task()).json()["id"]
    for headers in ({"origin": "https://evil.example"}, {"origin": "null"}, {"sec-fetch-site": "cross-site"}):
        assert_problem(limited.post(f"/tasks/{task_id}:cancel", headers=headers), 403, "origin")
        assert_problem(limited.post("/tasks", json=_task(), headers=headers), 403)
    assert limited.get("/tasks", headers={"origin": "https://evil.example"}).status_code == 200
    for origin in ("http://127.0.0.1", "https://portal.example.org"):
        assert limited.post(f"/tasks/{task_id}:cancel", headers={"origin": origin}).status_code == 200


def _token(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


JSON = {"content-type": "application/json"}
HOSTILE_BODIES = [
    ("nul", b'{"name": "a\\u0000b", "executors": [{"image": "a", "command": ["true"]}]}'),
    ("nul-key", b'{"tags": {"a\\u0000": "b"}, "executors": [{"image": "a", "command": ["true"]}]}'),
    ("surrogate", b'{"name": "\\ud800", "executors": [{"image": "a", "command": ["true"]}]}'),
    ("nan", b'{"resources": {"ram_gb": NaN}, "executors": [{"image": "a", "command": ["true"]}]}'),
    ("infinity", b'{"resources": {"ram_gb": Infinity}, "executors": [{"image": "a", "command": ["true"]}]}'),
    ("1e400", b'{"resources": {"ram_gb": 1e400}, "executors": [{"image": "a", "command": ["true"]}]}'),
    ("deep", b"[" * 1000 + b"]" * 1000),
    ("deep-object", b'{"a":' * 40 + b"1" + b"}" * 40),
    ("invalid-utf8", b'{"name": "\xff\xfe", "executors": [{"image": "a", "command": ["true"]}]}'),
    ("int32", b'{"resources": {"cpu_cores": 1180591620717411303424}, "executors": [{"image": "a", "command": ["t"]}]}'),
    ("huge-int", b'{"resources": {"cpu_cores": 1' + b"0" * 5000 + b'}, "executors": []}'),
]


@pytest.mark.parametrize(("name", "body"), HOSTILE_BODIES, ids=[n for n, _ in HOSTILE_BODIES])
def test_hostile_bodies_are_400(limited: TestClient, name: str, body: bytes) -> None:
    """Each hostile body is a 400 problem document, never a 5xx."""
    assert_problem(limited.post("/tasks", content=body, headers=JSON), 400)


def test_utf16_body_with_its_charset_is_400(limited: TestClient) -> None:
    """JSON must be UTF-8: a UTF-16 body declaring its charset is refused by name."""
    body = '{"executors": [{"image": "a", "command": ["true"]}]}'.encode("utf-16")
    response = limited.post("/tasks", content=body, headers={"content-type": "application/json; charset=utf-16"})
    assert_problem(response, 400, "charset")


@pytest.mark.parametrize(
    "path",
    ["/tasks/a%00b", "/tasks/a%0Ab", "/tasks/a%0Ab:cancel", "/tasks/%ff%fe", "/tasks?name_prefix=a%00",
     "/tasks?name_prefix=%ed%a0%80", "/tasks?page_token=a%0A", "/tasks?tag_key=%00"],
)
def test_hostile_paths_and_queries_are_400(limited: TestClient, path: str) -> None:
    """NUL, newline and invalid UTF-8 in an id or a query parameter: 400, never 5xx."""
    method = limited.post if path.endswith(":cancel") else limited.get
    assert_problem(method(path), 400)


@pytest.mark.parametrize("raw", ["p1:x", "p1:²", "p1:" + "9" * 10_000, "p1:99999999999999999999", "p1:-1"])
def test_page_tokens_that_decode_to_non_numbers_are_400(limited: TestClient, raw: str) -> None:
    """A page_token decoding to non-digits, unicode digits or a huge number is 400."""
    assert_problem(limited.get("/tasks", params={"page_token": _token(raw)}), 400, "page_token")


def test_405_carries_allow(limited: TestClient) -> None:
    """A wrong method on a known path is 405 with the path's methods in Allow."""
    for method, path, allow in (("delete", "/tasks", "GET, POST"), ("put", "/tasks/abc", "GET"),
                                ("post", "/service-info", "GET")):
        response = limited.request(method.upper(), path)
        assert response.status_code == 405, (method, path, response.text)
        assert response.headers["allow"] == allow
