"""The change feed against a real ``poiesis api`` and PostgreSQL: order, resume, filters, owners, slow readers."""

from __future__ import annotations

import concurrent.futures
import socket
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from poiesis import store
from tests.feed.sse import Frame, open_feed, read
from tests.plugins.api import BASE, clean_env
from tests.plugins.auth import basic


@pytest.fixture
def server(start_api, db_url: str, password_file: Path) -> str:
    """A real API (no backend: tasks stay QUEUED until the test writes their states) with Basic auth."""
    url, _ = start_api(env=clean_env(POIESIS_DATABASE_URL=db_url, POIESIS_AUTH="basic",
                                     POIESIS_AUTH_BASIC_FILE=str(password_file), POIESIS_AUTH_ADMIN_USERS="root",
                                     POIESIS_FEED_QUEUE="50"))
    return url


def _create(url: str, user: str = "alice", **task: Any) -> str:
    body = {"executors": [{"image": "busybox", "command": ["true"]}], **task}
    response = requests.post(f"{url}{BASE}/tasks", json=body, headers=basic(user), timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["id"]


def _run_to(task_store: store.Store, task_id: str, *states: str) -> None:
    for state in states:
        if state in ("COMPLETE", "EXECUTOR_ERROR", "SYSTEM_ERROR", "CANCELED"):
            task_store.write_terminal_state(task_id, state, ended_by="tctl")
        else:
            task_store.advance(task_id, state)


def _states(frames: list[Frame]) -> list[tuple[str, str, int]]:
    return [(f.data["id"], f.data["state"], f.data["n"]) for f in frames]


def test_a_task_s_state_changes_arrive_in_order(server: str, task_store: store.Store) -> None:
    """Created, RUNNING, COMPLETE: three events of the task, numbered 1-3, ids increasing, as they happen."""
    feed = open_feed(server, headers=basic("alice"))
    task_id = _create(server, name="hello")
    _run_to(task_store, task_id, "INITIALIZING", "RUNNING", "COMPLETE")
    got = read(feed, 4)
    assert _states(got) == [(task_id, "QUEUED", 1), (task_id, "INITIALIZING", 2), (task_id, "RUNNING", 3),
                            (task_id, "COMPLETE", 4)]
    assert got[0].data["name"] == "hello" and {f.event for f in got} == {"state"}
    assert [f.id for f in got] == sorted(f.id for f in got)


def test_since_resumes_after_a_reconnect_without_losing_an_event(server: str, task_store: store.Store) -> None:
    """A client that goes away after the first event and comes back with since= gets exactly the rest."""
    feed = open_feed(server, headers=basic("alice"))
    first = _create(server)
    (seen,) = read(feed, 1)
    feed.close()
    second = _create(server)
    _run_to(task_store, first, "RUNNING")
    _run_to(task_store, second, "CANCELED")
    again = open_feed(server, headers=basic("alice"), since=seen.id)
    assert _states(read(again, 4, timeout=5)) == [(second, "QUEUED", 1), (first, "RUNNING", 2),
                                                  (second, "CANCELED", 2)]
    header = open_feed(server, headers={**basic("alice"), "Last-Event-ID": str(seen.id)}, since=0)
    assert _states(read(header, 1)) == [(second, "QUEUED", 1)], "Last-Event-ID (EventSource's reconnect) wins"


def test_nothing_is_lost_with_concurrent_writers(server: str, db_url: str, task_store: store.Store) -> None:
    """Eight writers racing a reader that resumes after every 50 events: every stored event, once, each task in order."""
    ids = [_create(server) for _ in range(40)]
    start = open_feed(server, headers=basic("alice"), since=0)
    last = read(start, 1)[0].id
    start.close()

    def work(task_id: str) -> None:
        _run_to(task_store, task_id, "INITIALIZING", "RUNNING", "COMPLETE")

    seen: list[Frame] = []
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        running = pool.map(work, ids)
        deadline = time.monotonic() + 60
        while len(seen) < 40 * 4 - 1 and time.monotonic() < deadline:
            feed = open_feed(server, headers=basic("alice"), since=last)
            got = read(feed, 50, timeout=5)
            feed.close()
            seen += got
            last = got[-1].id if got else last
        list(running)
    with psycopg.connect(db_url) as conn:
        stored = conn.execute("SELECT count(*) FROM task_events").fetchone()[0]
    everything = [(ids[0], "QUEUED", 1), *_states(seen)]
    assert len(everything) == stored == 160
    assert len({f.id for f in seen}) == len(seen), "no event twice"
    for task_id in ids:
        assert [n for t, _, n in everything if t == task_id] == [1, 2, 3, 4]
        assert [s for t, s, _ in everything if t == task_id] == ["QUEUED", "INITIALIZING", "RUNNING", "COMPLETE"]


def test_a_caller_sees_only_the_events_of_its_own_tasks(server: str, task_store: store.Store) -> None:
    """alice's stream never carries bob's task; an administrator's carries both; no credentials is a 401."""
    alice, root = open_feed(server, headers=basic("alice")), open_feed(server, headers=basic("root"))
    bobs = _create(server, "bob")
    alices = _create(server, "alice")
    assert _states(read(alice, 1)) == [(alices, "QUEUED", 1)]
    assert [f.data["id"] for f in read(root, 2)] == [bobs, alices]
    caught_up = open_feed(server, headers=basic("alice"), since=0)
    assert [f.data["id"] for f in read(caught_up, 1)] == [alices], "the stored events too"
    assert requests.get(f"{server}{BASE}/events", timeout=5).status_code == 401


def test_filters_are_list_tasks_filters(server: str, task_store: store.Store) -> None:
    """state, name_prefix and tags (key=value, key alone) filter live and stored events alike."""
    wanted = {"name": "align-1", "tags": {"project": "x", "run": "7"}}
    filters = {"state": "RUNNING", "name_prefix": "align", "tag_key": ["project", "run"], "tag_value": ["x"]}
    live = open_feed(server, headers=basic("alice"), **filters)
    others = [_create(server, name="call-1", tags={"project": "x", "run": "1"}),
              _create(server, name="align-2", tags={"project": "y", "run": "1"}),
              _create(server, name="align-3", tags={"project": "x"})]
    task_id = _create(server, **wanted)
    for other in others:
        _run_to(task_store, other, "RUNNING")
    _run_to(task_store, task_id, "RUNNING", "COMPLETE")
    assert _states(read(live, 1)) == [(task_id, "RUNNING", 2)]
    stored = open_feed(server, headers=basic("alice"), since=0, **filters)
    assert _states(read(stored, 1)) == [(task_id, "RUNNING", 2)]
    one = open_feed(server, headers=basic("alice"), since=0, id=task_id)
    assert [f.data["state"] for f in read(one, 3)] == ["QUEUED", "RUNNING", "COMPLETE"]


@pytest.mark.parametrize("query, problem", [
    ("since=abc", "since"), ("since=999999", "names no event"), ("state=DONE", "state must be one of"),
    ("tag_value=x", "tag_value"), ("page_size=3", "unknown parameter"), ("state=RUNNING&state=QUEUED", "more than once"),
])
def test_a_bad_query_is_a_400_naming_it(server: str, query: str, problem: str) -> None:
    """Every refused query is problem+json naming the parameter."""
    response = requests.get(f"{server}{BASE}/events?{query}", headers=basic("alice"), timeout=5)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert problem in response.json()["detail"]


def test_service_info_names_the_extension(server: str) -> None:
    """service-info's description says where the feed and the dashboard are (its schema has no other place)."""
    info = requests.get(f"{server}{BASE}/service-info", timeout=5).json()
    assert f"task events as Server-Sent Events at {BASE}/events" in info["description"]
    assert "a web dashboard at /dashboard/" in info["description"]


def test_a_slow_subscriber_is_dropped_never_the_writer(server: str, db_url: str) -> None:
    """A client that stops reading is dropped (queue 50): 50,000 state writes finish unhindered meanwhile."""
    stalled = socket.create_connection(("127.0.0.1", int(server.rsplit(":", 1)[1])))
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    auth = basic("root")["Authorization"]
    stalled.sendall(f"GET {BASE}/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth}\r\n\r\n".encode())
    assert b"200" in stalled.recv(64)
    reader = open_feed(server, headers=basic("root"))
    started = time.monotonic()
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO tasks (id, state, owner) SELECT 'bulk-' || i, 'QUEUED', 'basic:alice'"
                     " FROM generate_series(1, 50000) i")
    assert time.monotonic() - started < 30, "the writer was not held up"
    stalled.settimeout(30)
    tail = b""
    while b"event: dropped" not in tail:
        chunk = stalled.recv(65536)
        assert chunk, "the stalled stream ended without saying it was dropped"
        tail = (tail + chunk)[-4096:]
    assert len(read(reader, 10)) == 10, "a subscriber that keeps up is unaffected"
    stalled.close()


def test_a_stopping_server_ends_its_streams(start_api, db_url: str) -> None:
    """SIGTERM with streams open: they end and the worker exits promptly instead of waiting for them for ever."""
    url, proc = start_api(env=clean_env(POIESIS_DATABASE_URL=db_url))
    port = int(url.rsplit(":", 1)[1])
    streams = []
    for _ in range(3):
        stream = socket.create_connection(("127.0.0.1", port))
        stream.sendall(f"GET {BASE}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        stream.settimeout(10)
        assert b"200" in stream.recv(4096)
        streams.append(stream)
    started = time.monotonic()
    proc.terminate()
    proc.wait(timeout=15)
    assert time.monotonic() - started < 10
    for stream in streams:
        while stream.recv(4096):  # the rest of the stream, then its end
            pass
        stream.close()


def test_a_second_replica_resumes_where_the_first_left_off(start_api, db_url: str, task_store: store.Store) -> None:
    """Two API processes on one database: events read from one, the rest resumed from the other by since."""
    first, _ = start_api(env=clean_env(POIESIS_DATABASE_URL=db_url))
    second, _ = start_api(env=clean_env(POIESIS_DATABASE_URL=db_url))
    feed = open_feed(first)
    task_id = _create(first)
    (seen,) = read(feed, 1)
    feed.close()
    _run_to(task_store, task_id, "RUNNING", "COMPLETE")
    resumed = open_feed(second, since=seen.id)
    assert _states(read(resumed, 2)) == [(task_id, "RUNNING", 2), (task_id, "COMPLETE", 3)]
