"""A real PostgreSQL for the tests, chosen by one setting: POIESIS_TEST_DATABASE.

- unset or ``embedded``: the embedded server of the pgserver wheel, in a temporary directory;
- ``container``: a PostgreSQL container started by testcontainers through a Docker-compatible
  socket: ``DOCKER_HOST``, else docker's or podman's (root, then rootless) socket, the first
  that exists; none is a failure, not a fallback. The image is ``postgres:16-alpine`` unless
  ``POIESIS_TEST_POSTGRES_IMAGE`` names another (``scripts/image postgres`` builds one here,
  with no registry);
- anything else: the connection string (DSN) of an existing server and a superuser on it.

The pytest header says which one a run uses. One server per test session;
every test that asks for ``db_url`` gets a fresh database cloned from a
migrated template, so tests never see each other's rows.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TypeVar

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from poiesis import store

_counter = itertools.count()
S = TypeVar("S", bound=store.Store)
TEMPLATE = "poiesis_template"
SETTING = "POIESIS_TEST_DATABASE"
IMAGE_SETTING = "POIESIS_TEST_POSTGRES_IMAGE"
DEFAULT_IMAGE = "postgres:16-alpine"


def choice(environ: Mapping[str, str]) -> str:
    """``embedded``, ``container`` or the DSN the setting names."""
    return (environ.get(SETTING) or "").strip() or "embedded"


def image(environ: Mapping[str, str]) -> str:
    """The PostgreSQL image the ``container`` choice runs."""
    return (environ.get(IMAGE_SETTING) or "").strip() or DEFAULT_IMAGE


def container_socket(environ: Mapping[str, str]) -> str | None:
    """DOCKER_HOST, else the first Docker-compatible socket there is: docker's, podman's as root, rootless."""
    if environ.get("DOCKER_HOST"):
        return environ["DOCKER_HOST"]
    candidates = [Path("/var/run/docker.sock"), Path("/run/podman/podman.sock")]
    if environ.get("XDG_RUNTIME_DIR"):
        candidates.append(Path(environ["XDG_RUNTIME_DIR"]) / "podman" / "podman.sock")
    return next((f"unix://{path}" for path in candidates if path.is_socket()), None)


def redacted(dsn: str) -> str:
    """The DSN without its password, to print."""
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "(a DSN that does not parse)"
    if parts.get("password"):
        parts["password"] = "***"
    return make_conninfo(**parts)


def describe(environ: Mapping[str, str]) -> str:
    """One line for the pytest header: which PostgreSQL this run uses, and the setting that chose it."""
    chosen = choice(environ)
    if chosen == "embedded":
        where = "embedded server (pgserver) in a temporary directory"
    elif chosen == "container":
        where = f"{image(environ)} container (testcontainers) through {container_socket(environ) or 'no socket found'}"
    else:
        where = f"existing server {redacted(chosen)}"
    setting = (environ.get(SETTING) or "unset") if chosen in ("embedded", "container") else "a DSN"
    return f"PostgreSQL: {where} ({SETTING}: {setting})"


def pytest_report_header(config: pytest.Config) -> str:
    """The PostgreSQL line of the pytest header."""
    return describe(os.environ)


@contextlib.contextmanager
def _environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables (testcontainers reads its engine from them), restored afterwards."""
    before = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def testcontainers_environ(socket: str, environ: Mapping[str, str]) -> dict[str, str]:
    """What testcontainers must be told to use the engine at ``socket`` (a user's own values win).

    podman runs no Ryuk reaper: the context manager removes the container. An engine
    behind a local Unix socket publishes ports on this host; testcontainers would
    otherwise guess, when this machine is itself a container, that it must reach them
    through a gateway address.
    """
    values = {"DOCKER_HOST": socket}
    if "podman" in socket:
        values["TESTCONTAINERS_RYUK_DISABLED"] = environ.get("TESTCONTAINERS_RYUK_DISABLED", "true")
    if socket.startswith("unix://"):
        values["TESTCONTAINERS_CONNECTION_MODE"] = environ.get("TESTCONTAINERS_CONNECTION_MODE", "docker_host")
    return values


@contextlib.contextmanager
def container(socket: str | None, image_ref: str) -> Iterator[str]:
    """A PostgreSQL container of ``image_ref`` started by testcontainers through ``socket``; its URL."""
    if socket is None:
        pytest.fail(f"{SETTING}=container but no Docker-compatible socket answers: set DOCKER_HOST "
                    "(podman: `podman system service --time=0 unix:///run/podman/podman.sock`)", pytrace=False)
    with _environ(testcontainers_environ(socket, os.environ)):
        from testcontainers.community.postgres import PostgresContainer

        with PostgresContainer(image_ref, driver=None) as started:
            yield started.get_connection_url()


@contextlib.contextmanager
def _embedded() -> Iterator[str]:
    import pgserver

    with tempfile.TemporaryDirectory(prefix="poiesis-pg-") as tmp:
        server = pgserver.get_server(Path(tmp), cleanup_mode="stop")
        try:
            _no_durability(server.get_uri())
            yield server.get_uri()
        finally:
            server.cleanup()


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """Connection string of a superuser on the real PostgreSQL server POIESIS_TEST_DATABASE chose."""
    chosen = choice(os.environ)
    if chosen == "embedded":
        with _embedded() as url:
            yield url
    elif chosen == "container":
        with container(container_socket(os.environ), image(os.environ)) as url:
            yield url
    else:
        yield chosen


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


@contextlib.contextmanager
def opened(db_url: str, kind: type[S]) -> Iterator[S]:
    """A ``kind`` (Store or a subclass of it) on ``db_url``, its pool closed afterwards."""
    pool = store.open_pool(db_url, max_size=8)
    pool.wait(timeout=10)
    try:
        yield kind(pool)
    finally:
        pool.close()


@pytest.fixture
def task_store(db_url: str) -> Iterator[store.Store]:
    """A Store on a fresh database, its pool closed afterwards."""
    with opened(db_url, store.Store) as opened_store:
        yield opened_store
