"""The store against real PostgreSQL: guarded writes, views, filters, pagination."""

from __future__ import annotations

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
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


def test_an_end_that_lands_canceled_says_the_task_was_cancelled_first(task_store):
    """An end written after a cancel came first lands CANCELED with the cancel's line before its own lines."""
    from poiesis import lifecycle

    task_id = task_store.create_task(tes_task(TASK))
    assert task_store.advance(task_id, "CANCELING") == "CANCELING"
    assert task_store.write_terminal_state(task_id, "EXECUTOR_ERROR", system_logs=["executor #0 exited with code 1"]) \
        == "CANCELED"
    assert task_store.get_task(task_id, view="FULL")["logs"][0]["system_logs"] == [
        lifecycle.CANCELLED_LOG, "executor #0 exited with code 1"]


def test_logs_are_recorded_once_and_shown_per_view(task_store):
    """Executor, output-file and system logs land once and appear in FULL; BASIC hides heavy fields."""
    task_id = task_store.create_task(tes_task(TASK))
    task_store.advance(task_id, "RUNNING")
    assert task_store.add_executor_log(task_id, index=0, exit_code=3, stdout="out", stderr="err")
    assert not task_store.add_executor_log(task_id, index=0, exit_code=0)
    task_store.write_terminal_state(task_id, "SYSTEM_ERROR", system_logs=["tof failed"],
                                    outputs=[{"url": "s3://b/c.txt", "path": "/out/c.txt", "size_bytes": "12"}])
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
        _insert_children_as_before_0005(conn, created, tes_task(TASK))
    assert store.migrate(old) == [version for version, _, _ in migrations() if version >= 4]
    pool = store.open_pool(old, max_size=1)
    try:
        assert {view: store.Store(pool).get_task(created, view=view) for view in ("BASIC", "FULL")} == expected
    finally:
        pool.close()


def _insert_children_as_before_0005(conn: psycopg.Connection, task_id: str, task) -> None:
    """The child rows of ``task`` as the store wrote them, statement by statement, before migration 0005."""
    value = lambda enum: None if enum is None else enum.value  # noqa: E731
    rows = {
        "INSERT INTO task_inputs (task_id, idx, name, description, url, path, type, content, streamable)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)":
            [(task_id, i, x.name, x.description, x.url, x.path, value(x.type), x.content, x.streamable)
             for i, x in enumerate(task.inputs or [])],
        "INSERT INTO task_outputs (task_id, idx, name, description, url, path, path_prefix, type)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)":
            [(task_id, i, o.name, o.description, o.url, o.path, o.path_prefix, value(o.type))
             for i, o in enumerate(task.outputs or [])],
        "INSERT INTO task_executors (task_id, idx, image, command, workdir, stdin, stdout, stderr, env,"
        " ignore_error) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)":
            [(task_id, i, e.image, e.command, e.workdir, e.stdin, e.stdout, e.stderr,
              Jsonb(e.env) if e.env is not None else None, e.ignore_error) for i, e in enumerate(task.executors)],
        "INSERT INTO task_volumes (task_id, idx, path) VALUES (%s, %s, %s)":
            [(task_id, i, p) for i, p in enumerate(task.volumes or [])],
    }
    for sql, values in rows.items():
        if values:
            conn.cursor().executemany(sql, values)


_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
_MAYBE = lambda strategy: st.none() | strategy  # noqa: E731
_PATH = st.sampled_from(["/in/a", "/in/b.txt", "/data", "/out/r.txt", "/out/*.txt"])
_GENERATED = st.fixed_dictionaries(
    {"executors": st.lists(st.fixed_dictionaries(
        {"image": st.sampled_from(["alpine", "ubuntu:22.04"]), "command": st.lists(_TEXT, min_size=1, max_size=3)},
        optional={"workdir": _MAYBE(_PATH), "stdin": _MAYBE(_PATH), "stdout": _MAYBE(_PATH),
                  "stderr": _MAYBE(_PATH), "env": _MAYBE(st.dictionaries(_TEXT, _TEXT, max_size=3)),
                  "ignore_error": _MAYBE(st.booleans())}), min_size=1, max_size=3)},
    optional={
        "name": _MAYBE(_TEXT), "description": _MAYBE(_TEXT),
        "inputs": st.lists(st.fixed_dictionaries(
            {"path": _PATH},
            optional={"name": _MAYBE(_TEXT), "description": _MAYBE(_TEXT), "url": _MAYBE(st.just("s3://b/k")),
                      "content": _MAYBE(_TEXT), "type": _MAYBE(st.sampled_from(["FILE", "DIRECTORY"])),
                      "streamable": _MAYBE(st.booleans())}), max_size=3),
        "outputs": st.lists(st.fixed_dictionaries(
            {"path": _PATH, "url": st.just("s3://b/o")},
            optional={"name": _MAYBE(_TEXT), "description": _MAYBE(_TEXT), "path_prefix": _MAYBE(st.just("/out/")),
                      "type": _MAYBE(st.sampled_from(["FILE", "DIRECTORY"]))}), max_size=3),
        "volumes": st.lists(_PATH, max_size=3),
        "tags": st.dictionaries(_TEXT, _TEXT, max_size=3),
        "resources": st.fixed_dictionaries({}, optional={
            "cpu_cores": st.integers(1, 64), "ram_gb": st.floats(0.5, 64), "preemptible": st.booleans(),
            "zones": st.lists(_TEXT, max_size=2), "backend_parameters": st.dictionaries(_TEXT, _TEXT, max_size=2)}),
    },
)
_ROWS = {
    "tasks": "SELECT state, name, description, resources, tags, owner, request FROM tasks WHERE id = %s",
    "task_inputs": "SELECT idx, name, description, url, path, type, content, streamable FROM task_inputs"
                   " WHERE task_id = %s ORDER BY idx",
    "task_outputs": "SELECT idx, name, description, url, path, path_prefix, type FROM task_outputs"
                    " WHERE task_id = %s ORDER BY idx",
    "task_executors": "SELECT idx, image, command, workdir, stdin, stdout, stderr, env, ignore_error"
                      " FROM task_executors WHERE task_id = %s ORDER BY idx",
    "task_volumes": "SELECT idx, path FROM task_volumes WHERE task_id = %s ORDER BY idx",
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=_GENERATED)
def test_one_statement_create_writes_what_the_statements_before_it_wrote(task_store, db_url, doc):
    """The create_task function (migration 0005) writes every row the per-table statements wrote before it."""
    task = tes_task(doc)
    created = task_store.create_task(task, owner="basic:alice")
    before = store.plans.new_task_id()
    with psycopg.connect(db_url, autocommit=True) as conn, conn.transaction():
        conn.execute("INSERT INTO tasks (id, state, name, description, resources, tags, owner)"
                     " VALUES (%s, 'QUEUED', %s, %s, %s, %s, %s)",
                     (before, task.name, task.description,
                      Jsonb(task.resources.model_dump(mode="json", exclude_none=True)) if task.resources else None,
                      Jsonb(task.tags or {}), "basic:alice"))
        _insert_children_as_before_0005(conn, before, task)
        conn.execute("UPDATE tasks SET request = task_request_json(id) WHERE id = %s", (before,))
        for table, sql in _ROWS.items():
            assert conn.execute(sql, (created,)).fetchall() == conn.execute(sql, (before,)).fetchall(), table
