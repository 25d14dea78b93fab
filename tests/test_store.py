"""The store against real PostgreSQL: guarded writes, views, filters, pagination."""

from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

from poiesis import store
from poiesis.store import TaskFilter
from tests.tasks import tes_task

TASK = {
    "name": "hello",
    "description": "say hello",
    "executors": [{"image": "alpine", "command": ["echo", "hi"], "env": {"A": "1"}}],
    "inputs": [{"path": "/in/a.txt", "content": "x" * 10}, {"path": "/in/b", "url": "s3://b/k", "type": "DIRECTORY"}],
    "outputs": [{"path": "/out/c.txt", "url": "s3://b/c.txt"}],
    "volumes": ["/vol"],
    "tags": {"project": "p1"},
    "resources": {"cpu_cores": 2, "ram_gb": 1.5},
}


def test_create_and_get_full_round_trips_the_document(task_store):
    """A created task comes back in FULL with every field it was given, QUEUED."""
    task_id = task_store.create_task(tes_task(TASK))
    got = task_store.get_task(task_id, view="FULL")
    assert got["id"] == task_id and got["state"] == "QUEUED"
    for key in ("name", "description", "executors", "inputs", "outputs", "volumes", "tags", "resources"):
        assert got[key] == TASK[key], key
    assert got["creation_time"].endswith("Z")
    assert "logs" not in got


def test_get_task_model_reads_the_stored_task_back_typed(task_store):
    """The model a backend runs from equals the one CreateTask stored, plus what the server set."""
    created = tes_task(TASK)
    task_id = task_store.create_task(created)
    got = task_store.get_task_model(task_id)
    assert got is not None and got.id == task_id and got.state == "QUEUED" and got.creation_time
    assert got.model_copy(update={"id": None, "state": None, "creation_time": None}) == created
    assert task_store.get_task_model("no-such-task") is None


def test_minimal_and_basic_projections(task_store):
    """MINIMAL has id and state only; BASIC drops input content."""
    task_id = task_store.create_task(tes_task(TASK))
    assert task_store.get_task(task_id, view="MINIMAL") == {"id": task_id, "state": "QUEUED"}
    basic = task_store.get_task(task_id, view="BASIC")
    assert "content" not in basic["inputs"][0]
    assert basic["inputs"][0]["path"] == "/in/a.txt"


def test_unknown_task_is_none(task_store):
    """Reading or writing a task that does not exist gives None."""
    assert task_store.get_task("nope") is None
    assert task_store.write_terminal_state("nope", "COMPLETE") is None
    assert task_store.advance("nope", "RUNNING") is None


def test_terminal_state_is_write_once(task_store):
    """The first terminal write lands; later ones return it unchanged."""
    task_id = task_store.create_task(tes_task(TASK))
    assert task_store.advance(task_id, "RUNNING") == "RUNNING"
    assert task_store.write_terminal_state(task_id, "EXECUTOR_ERROR") == "EXECUTOR_ERROR"
    assert task_store.write_terminal_state(task_id, "COMPLETE") == "EXECUTOR_ERROR"
    assert task_store.advance(task_id, "RUNNING") == "EXECUTOR_ERROR"
    assert task_store.get_state(task_id) == "EXECUTOR_ERROR"


def test_canceling_turns_any_terminal_write_into_canceled(task_store):
    """A terminal write on a CANCELING task lands as CANCELED."""
    task_id = task_store.create_task(tes_task(TASK))
    assert task_store.advance(task_id, "CANCELING") == "CANCELING"
    assert task_store.write_terminal_state(task_id, "COMPLETE") == "CANCELED"


def test_logs_are_recorded_once_and_shown_per_view(task_store):
    """Executor, output-file and system logs land once and appear in FULL; BASIC hides heavy fields."""
    task_id = task_store.create_task(tes_task(TASK))
    task_store.advance(task_id, "RUNNING")
    assert task_store.add_executor_log(task_id, index=0, exit_code=3, stdout="out", stderr="err")
    assert not task_store.add_executor_log(task_id, index=0, exit_code=0)
    task_store.add_output_file_logs(task_id, [{"url": "s3://b/c.txt", "path": "/out/c.txt", "size_bytes": "12"}])
    task_store.add_output_file_logs(task_id, [{"url": "s3://b/c.txt", "path": "/out/c.txt", "size_bytes": "12"}])
    task_store.write_terminal_state(task_id, "SYSTEM_ERROR", system_logs=["tof failed"])
    full = task_store.get_task(task_id, view="FULL")
    (log,) = full["logs"]
    assert log["logs"] == [{**log["logs"][0], "exit_code": 3, "stdout": "out", "stderr": "err"}]
    assert log["outputs"] == [{"url": "s3://b/c.txt", "path": "/out/c.txt", "size_bytes": "12"}]
    assert log["system_logs"] == ["tof failed"]
    assert log["start_time"] <= log["end_time"]
    basic = task_store.get_task(task_id, view="BASIC")
    assert "system_logs" not in basic["logs"][0]
    assert "stdout" not in basic["logs"][0]["logs"][0]


def test_filters_and_tag_matching_table(task_store):
    """name_prefix, state and the spec's tag table select exactly the right tasks."""
    ids = {}
    for name, tags in [("alpha-1", {"foo": "bar"}), ("alpha-2", {"foo": "bat"}), ("beta", {"foo": ""}),
                       ("al%", {"foo": "bar", "baz": "bat"}), ("none", {})]:
        ids[name] = task_store.create_task(tes_task({**TASK, "name": name, "tags": tags}))

    def names(**kw):
        page = task_store.list_tasks(filters=TaskFilter(**kw), view="BASIC")
        return {t["name"] for t in page.tasks}

    assert names(name_prefix="alpha") == {"alpha-1", "alpha-2"}
    assert names(name_prefix="al%") == {"al%"}
    assert names(tags={"foo": "bar"}) == {"alpha-1", "al%"}
    assert names(tags={"foo": ""}) == {"alpha-1", "alpha-2", "beta", "al%"}
    assert names(tags={"foo": "bar", "baz": "bat"}) == {"al%"}
    assert names(tags={"baz": ""}) == {"al%"}
    task_store.write_terminal_state(ids["beta"], "COMPLETE")
    assert names(state="COMPLETE") == {"beta"}


def test_pagination_is_newest_first_without_loss_or_repeat(task_store):
    """Pages walk every task exactly once, newest first, even with inserts between pages."""
    created = [task_store.create_task(tes_task(TASK)) for _ in range(7)]
    seen, below = [], None
    while True:
        page = task_store.list_tasks(page_size=3, below_seq=below)
        seen += [t["id"] for t in page.tasks]
        task_store.create_task(tes_task(TASK))  # a task created mid-walk is newer: never in later pages
        if page.next_seq is None:
            break
        below = page.next_seq
    assert seen == list(reversed(created))


def test_migrations_apply_once(db_url):
    """Migrating an up-to-date database applies nothing and keeps one row per version."""
    assert store.migrate(db_url) == []
    with psycopg.connect(db_url) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
    assert versions == sorted(set(versions)) and versions


def test_tasks_stored_before_the_request_document_keep_every_view(pg_admin_url, task_store):
    """Migration 0004 fills the request document of tasks created before it: their views do not change."""
    from poiesis.store.db import migrations
    from poiesis.store.plans import _child_rows
    from tests.plugins.pg import create_database

    created = task_store.create_task(tes_task(TASK))
    expected = {view: task_store.get_task(created, view=view) for view in ("BASIC", "FULL")}
    old = create_database(pg_admin_url, "template0")
    with psycopg.connect(old, autocommit=True) as conn:
        conn.execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
                     " applied_at timestamptz NOT NULL DEFAULT now())")
        for version, name, sql in migrations():
            if version < 4:
                conn.execute(sql)
                conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name))
        # the task as the code before migration 0004 wrote it
        conn.execute("INSERT INTO tasks (id, state, name, description, resources, tags, creation_time)"
                     " VALUES (%s, 'QUEUED', %s, %s, %s, %s, %s::timestamptz)",
                     (created, TASK["name"], TASK["description"], Jsonb(TASK["resources"]), Jsonb(TASK["tags"]),
                      expected["FULL"]["creation_time"]))
        for sql, rows in _child_rows(created, tes_task(TASK)):
            if rows:
                conn.cursor().executemany(sql, rows)
    assert store.migrate(old) == [version for version, _, _ in migrations() if version >= 4]
    pool = store.open_pool(old, max_size=1)
    try:
        assert {view: store.Store(pool).get_task(created, view=view) for view in ("BASIC", "FULL")} == expected
    finally:
        pool.close()
