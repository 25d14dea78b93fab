"""A task Pod's database credential writes its own task's run and nothing else (issue 21, finding 4).

TRec connects as a role with no privileges (as the operator creates it: docs/security.md) and
proves which task it records with the task's secret (migration 0007). Each test here connects
to the test PostgreSQL as such a role, holding task A's secret, and makes the attacks a
compromised recorder (or task code that took its credential) would: read the tables, call the
API's own functions, write or end task B with A's secret, shadow a table with a temporary one.
Every one is refused and changes no row of B; A's own records land.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import errors, sql
from psycopg.conninfo import make_conninfo

from poiesis import lifecycle, store
from poiesis.kube.outcome import Ended
from poiesis.record import Recorder
from tests.tasks import tes_task
from tests.test_store_after_end import rows_of

TASK = {"executors": [{"image": "alpine", "command": ["true"]}], "outputs": [{"path": "/out/a", "url": "s3://b/a"}]}
AT = datetime(2026, 1, 1, tzinfo=UTC)
TABLES = ("tasks", "task_inputs", "task_outputs", "task_executors", "task_volumes", "task_logs", "executor_logs",
          "output_file_logs", "schema_migrations", "task_secret_key")


@pytest.fixture
def task_role_url(pg_admin_url: str, db_url: str) -> Iterator[str]:
    """A login role with no privileges, as TRec's; its connection string to the test's database."""
    role, password = f"poiesis_task_{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(password)))
    try:
        yield make_conninfo(db_url, user=role, password=password)
    finally:
        drop_role(pg_admin_url, db_url, role)


def drop_role(admin_url: str, db_url: str, role: str) -> None:
    """Drop the test's role and what it holds in the test's database."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@pytest.fixture
def two_tasks(task_store: store.Store) -> tuple[str, str]:
    return task_store.create_task(tes_task(TASK)), task_store.create_task(tes_task(TASK))


def refused(url: str, statement: str, params: tuple[object, ...] = ()) -> None:
    """``statement``, run as the task role, is refused for want of privilege."""
    with psycopg.connect(url, autocommit=True) as conn, pytest.raises(errors.InsufficientPrivilege):
        conn.execute(statement, params)


def test_a_task_credential_records_its_own_task(task_store, task_role_url, two_tasks) -> None:
    """With A's secret, A's steps, executor log, line, end and outputs land, ended by trec."""
    a, _ = two_tasks
    pool = store.open_pool(task_role_url, max_size=2)
    own = store.TaskStore(pool, a, task_store.task_secret(a))
    try:
        assert own.get_state(a) == "QUEUED"
        assert own.advance(a, "INITIALIZING") == "INITIALIZING"
        assert own.advance(a, "RUNNING", at=AT) == "RUNNING"
        assert own.add_executor_log(a, index=0, exit_code=0, start_time=AT, end_time=AT, stdout="hi")
        assert own.add_system_logs(a, ["a notice"])
        outputs = [{"url": "s3://b/a", "path": "/out/a", "size_bytes": "3"}]
        assert own.write_terminal_state(a, "COMPLETE", end_time=AT, outputs=outputs) == "COMPLETE"
        assert own.add_system_logs(a, ["after the end"]) is False
    finally:
        pool.close()
    task = task_store.get_task(a, view="FULL")
    assert task["state"] == "COMPLETE"
    assert task["logs"][0]["outputs"] == outputs
    assert task["logs"][0]["system_logs"] == ["a notice"]
    assert task["logs"][0]["logs"][0]["stdout"] == "hi"


def test_the_recorder_runs_on_a_task_credential(task_store, task_role_url, two_tasks) -> None:
    """TRec's ``Recorder`` over ``TaskStore``: without the task volume it says the outputs were not recorded."""
    a, _ = two_tasks
    pool = store.open_pool(task_role_url, max_size=2)
    try:
        recorder = Recorder(store=store.TaskStore(pool, a, task_store.task_secret(a)))
        assert recorder.record(a, None, Ended(lifecycle.completed(), (), AT, AT)) == "COMPLETE"
    finally:
        pool.close()
    assert task_store.get_task(a, view="FULL")["logs"][0]["system_logs"] == [lifecycle.OUTPUTS_NOT_RECORDED]


def test_a_task_credential_cannot_read_the_tables(task_role_url, two_tasks) -> None:
    """Every table, the task secrets' key included, is closed to the task role."""
    for table in TABLES:
        refused(task_role_url, f"SELECT * FROM {table}")
    refused(task_role_url, "CREATE TABLE public.planted (x int)")


def test_a_task_credential_cannot_call_the_apis_functions(task_role_url, two_tasks) -> None:
    """The guarded writes themselves, the secret derivation and CreateTask are the owner's only."""
    _, b = two_tasks
    refused(task_role_url, "SELECT task_secret(%s)", (b,))
    refused(task_role_url, "SELECT task_check_secret(%s, %s)", (b, "x"))
    refused(task_role_url, "SELECT * FROM task_end(%s, 'COMPLETE', NULL, NULL, 'trec', '{}', '{}', '[]')", (b,))
    refused(task_role_url, "SELECT task_add_system_logs(%s, '{x}')", (b,))
    refused(task_role_url, "SELECT task_add_executor_log(%s, 0, 0, NULL, NULL, NULL, NULL)", (b,))
    refused(task_role_url, "SELECT task_advance(%s, 'RUNNING', '{QUEUED}', NULL, NULL)", (b,))
    refused(task_role_url, "SELECT task_lock_active(%s)", (b,))
    refused(task_role_url, "SELECT create_task('x', NULL, '{\"executors\": []}')")
    refused(task_role_url, "SELECT task_request_json(%s)", (b,))


def test_a_secret_opens_only_its_own_task(task_store, db_url, task_role_url, two_tasks) -> None:
    """With A's secret: reading B, stepping B, logging to B, ending B are refused and B's rows stay as they were."""
    a, b = two_tasks
    secret_a = task_store.task_secret(a)
    before = rows_of(db_url, b)
    refused(task_role_url, "SELECT * FROM task_record_task(%s, %s)", (b, secret_a))
    refused(task_role_url, "SELECT task_record_advance(%s, %s, 'RUNNING', '{QUEUED}', NULL)", (b, secret_a))
    refused(task_role_url, "SELECT task_record_executor_log(%s, %s, 0, 0, NULL, NULL, 'x', 'y')", (b, secret_a))
    refused(task_role_url, "SELECT task_record_system_logs(%s, %s, '{planted}')", (b, secret_a))
    refused(task_role_url, "SELECT * FROM task_record_end(%s, %s, 'SYSTEM_ERROR', NULL, NULL, '{planted}', '{}',"
                           " '[{\"url\": \"s3://evil\", \"path\": \"/x\", \"size_bytes\": \"1\"}]')", (b, secret_a))
    refused(task_role_url, "SELECT * FROM task_record_task(%s, NULL)", (b,))
    refused(task_role_url, "SELECT * FROM task_record_task(%s, %s)", (b, ""))
    assert rows_of(db_url, b) == before
    assert task_store.get_state(b) == "QUEUED"


def test_a_task_credential_steps_only_forward(task_store, task_role_url, two_tasks) -> None:
    """Its own secret does not take its task out of CANCELING, nor write CANCELING or a terminal state as a step."""
    a, _ = two_tasks
    secret_a = task_store.task_secret(a)
    task_store.advance(a, "CANCELING")
    refused(task_role_url, "SELECT task_record_advance(%s, %s, 'RUNNING', '{CANCELING}', NULL)", (a, secret_a))
    refused(task_role_url, "SELECT task_record_advance(%s, %s, 'CANCELING', '{QUEUED}', NULL)", (a, secret_a))
    refused(task_role_url, "SELECT task_record_advance(%s, %s, 'COMPLETE', '{QUEUED}', NULL)", (a, secret_a))
    assert task_store.get_state(a) == "CANCELING"


def test_a_temporary_table_does_not_stand_in_for_the_tasks_table(task_store, task_role_url, two_tasks) -> None:
    """A session's own ``tasks`` (pg_temp) does not fool the functions: their search_path is pinned."""
    a, _ = two_tasks
    task_store.advance(a, "INITIALIZING")
    with psycopg.connect(task_role_url, autocommit=True) as conn:
        conn.execute("CREATE TEMP TABLE tasks (id text, state text)")  # PUBLIC may, unless an operator revoked TEMP
        conn.execute("INSERT INTO tasks VALUES (%s, 'QUEUED')", (a,))
        assert conn.execute("SELECT state FROM tasks").fetchone() == ("QUEUED",)  # the session sees its own
        said = conn.execute("SELECT state FROM task_record_task(%s, %s)", (a, task_store.task_secret(a))).fetchone()
    assert said == ("INITIALIZING",)


def test_the_task_store_refuses_another_task_before_asking(task_store, task_role_url, two_tasks) -> None:
    """``TaskStore`` is bound to one task: another id is refused in Poiesis too, and ended_by is always trec."""
    a, b = two_tasks
    pool = store.open_pool(task_role_url, max_size=1)
    try:
        own = store.TaskStore(pool, a, task_store.task_secret(a))
        with pytest.raises(ValueError, match="writes task"):
            own.add_system_logs(b, ["x"])
        with pytest.raises(ValueError, match="ends it as trec"):
            own.write_terminal_state(a, "COMPLETE", ended_by="tctl")
    finally:
        pool.close()


def test_each_task_has_its_own_secret(task_store, two_tasks) -> None:
    """Secrets are per task (64 hex digits: SHA-256 of a per-installation key and the id)."""
    a, b = two_tasks
    assert task_store.task_secret(a) != task_store.task_secret(b)
    assert len(task_store.task_secret(a)) == 64
    assert task_store.task_secret(a) == task_store.task_secret(a)


def test_migrate_makes_the_task_role_with_no_privileges(pg_admin_url, db_url, task_store, two_tasks) -> None:
    """``poiesis migrate`` with POIESIS_TASK_DATABASE_URL makes the role: it logs in, records its task, reads nothing."""
    from poiesis import compose
    from poiesis.config import Settings

    a, b = two_tasks
    role, password = f"poiesis_task_{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    task_url = make_conninfo(db_url, user=role, password=password)
    settings = Settings.from_env({"POIESIS_DATABASE_URL": db_url, "POIESIS_TASK_DATABASE_URL": task_url})
    try:
        compose.migrate(settings)
        compose.migrate(settings)  # again: the role is kept, its password set again
        refused(task_url, "SELECT * FROM tasks")
        refused(task_url, "SELECT * FROM task_record_task(%s, %s)", (b, task_store.task_secret(a)))
        with psycopg.connect(task_url) as conn:
            assert conn.execute("SELECT state FROM task_record_task(%s, %s)",
                                (a, task_store.task_secret(a))).fetchone() == ("QUEUED",)
        with pytest.raises(ValueError, match="API's own"):
            store.ensure_task_role(db_url, db_url)
    finally:
        drop_role(pg_admin_url, db_url, role)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(guess=st.one_of(st.text(max_size=70), st.sampled_from(["other", "upper", "prefix", "suffix", "empty"])))
def test_no_secret_but_the_tasks_own_opens_it(task_store, task_role_url, two_tasks, guess) -> None:
    """Any text but task A's secret (B's, A's in capitals, cut, extended, random) is refused, and A is unchanged."""
    a, b = two_tasks
    own = task_store.task_secret(a)
    secret = {"other": task_store.task_secret(b), "upper": own.upper(), "prefix": own[:-1], "suffix": own + "0",
              "empty": ""}.get(guess, guess)
    if secret == own:
        return
    refused(task_role_url, "SELECT task_record_system_logs(%s, %s, '{guessed}')", (a, secret.replace("\x00", "")))
    assert "logs" not in task_store.get_task(a, view="FULL")  # not even a run row
