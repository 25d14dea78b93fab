"""A real PostgreSQL for the tests: testcontainers where a Docker engine answers, else embedded.

POIESIS_TEST_DATABASE_URL names an existing server instead. One server per
test session; every test that asks for ``db_url`` gets a fresh database
cloned from a migrated template, so tests never see each other's rows.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from poiesis import store

_counter = itertools.count()
TEMPLATE = "poiesis_template"


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:  # noqa: BLE001 - any failure means no usable engine
        return False


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """Connection string of a superuser on a real PostgreSQL server for this session."""
    given = os.environ.get("POIESIS_TEST_DATABASE_URL")
    if given:
        yield given
        return
    if _docker_answers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver=None) as container:
            yield container.get_connection_url()
        return
    import pgserver

    with tempfile.TemporaryDirectory(prefix="poiesis-pg-") as tmp:
        server = pgserver.get_server(Path(tmp), cleanup_mode="stop")
        try:
            _no_durability(server.get_uri())
            yield server.get_uri()
        finally:
            server.cleanup()


def _no_durability(url: str) -> None:
    """Tests need no crash safety: skip fsync so database churn costs no disk flushes."""
    with psycopg.connect(url, autocommit=True) as conn:
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            conn.execute(f"ALTER SYSTEM SET {setting} = off")
        conn.execute("SELECT pg_reload_conf()")


@pytest.fixture(scope="session")
def pg_template(pg_admin_url: str) -> str:
    """Name of a database with every migration applied, to clone per test."""
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")
        conn.execute(f"CREATE DATABASE {TEMPLATE}")
    store.migrate(make_conninfo(pg_admin_url, dbname=TEMPLATE))
    return TEMPLATE


def create_database(admin_url: str, template: str) -> str:
    """Clone the template into a new database; returns its connection string."""
    name = f"t_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    return make_conninfo(admin_url, dbname=name)


@pytest.fixture
def db_url(pg_admin_url: str, pg_template: str) -> str:
    """A fresh, migrated database of its own for one test."""
    return create_database(pg_admin_url, pg_template)


@pytest.fixture
def task_store(db_url: str) -> Iterator[store.Store]:
    """A Store on a fresh database, its pool closed afterwards."""
    pool = store.open_pool(db_url, max_size=8)
    pool.wait(timeout=10)
    try:
        yield store.Store(pool)
    finally:
        pool.close()
