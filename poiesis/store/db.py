"""Connections: the pool, the embedded PostgreSQL, and schema migrations.

With ``plans``, ``tasks`` and ``aio``, the only modules that import psycopg. Migrations are the
numbered ``migrations/*.sql`` files, applied in order under an advisory lock
so that several API replicas starting at once apply each exactly once.
"""

from __future__ import annotations

import logging
import re
import time
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg
import psycopg.conninfo
from psycopg import sql
from psycopg_pool import AsyncConnectionPool, ConnectionPool

log = logging.getLogger(__name__)

# Any fixed 64-bit number, the same in every process that migrates.
MIGRATION_LOCK = 0x706F69657369730A
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class Unavailable(Exception):
    """The database cannot be reached now; the caller may retry later."""


def migrations() -> list[tuple[int, str, str]]:
    """The packaged migrations as (version, file name, SQL), in order."""
    found = []
    for entry in resources.files("poiesis.store").joinpath("migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text()))
    return sorted(found)


def migrate(conninfo: str) -> list[int]:
    """Apply every migration not yet applied; returns the versions applied now."""
    applied_now = []
    try:
        conn = psycopg.connect(conninfo, autocommit=True)
    except psycopg.OperationalError as exc:
        raise Unavailable(str(exc)) from exc
    with conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for version, name, sql in migrations():
                if version in done:
                    continue
                with conn.transaction():
                    conn.execute(sql)
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                        (version, name),
                    )
                log.info("applied migration %s", name)
                applied_now.append(version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
    return applied_now


def ensure_task_role(conninfo: str, task_url: str) -> str:
    """Make the role of the task Pods' credential (``task_url``'s user): login, its password, no privileges.

    The role may only call the ``task_record_*`` functions (migration 0007 grants nothing
    else to anyone), each for the one task whose secret it holds (docs/security.md). It must
    be another role than ``conninfo``'s, no superuser and a member of no role; an existing
    one is given the password again. Needs CREATEROLE (or a superuser) on ``conninfo``.
    Returns the role's name.
    """
    params = psycopg.conninfo.conninfo_to_dict(task_url)
    role, password = params.get("user"), params.get("password")
    if not role:
        raise ValueError("the task database URL names no user")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        if role == conn.execute("SELECT current_user").fetchone()[0]:  # type: ignore[index]
            raise ValueError(f"the task database role {role} is the API's own: it must be a role of its own")
        found = conn.execute(
            "SELECT rolsuper, EXISTS (SELECT 1 FROM pg_auth_members m WHERE m.member = r.oid)"
            " FROM pg_roles r WHERE rolname = %s", (role,)).fetchone()
        if found is not None and any(found):
            raise ValueError(f"the task database role {role} is a superuser or a member of another role")
        statement = sql.SQL("{} ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION{}").format(
            sql.SQL("ALTER" if found is not None else "CREATE"), sql.Identifier(str(role)),
            sql.SQL(" PASSWORD {}").format(sql.Literal(password)) if password else sql.SQL(""))
        conn.execute(statement)
        # PUBLIC may connect unless an operator revoked it; a role that may not grant it only gets a warning
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
            sql.Identifier(conn.execute("SELECT current_database()").fetchone()[0]),  # type: ignore[index]
            sql.Identifier(str(role))))
    log.info("task database role %s ready", role)
    return str(role)


#: A pooled connection handed out this recently is handed out again without a check; an older one is checked first.
TRUSTED_IDLE_SECONDS = 1.0


def open_pool(conninfo: str, *, min_size: int = 1, max_size: int = 10, timeout: float = 5.0) -> ConnectionPool:
    """A pool of autocommit connections, checked before reuse when they were idle.

    Autocommit: a single statement is its own transaction (one round trip, no
    BEGIN/COMMIT); a write of several statements opens ``conn.transaction()``.
    Commits stay synchronous (durable). A connection last handed out more than
    ``TRUSTED_IDLE_SECONDS`` ago is checked with an empty query before it is
    handed out again (a database restart leaves idle connections dead); one
    that just served a request is not, which saves a round trip under load.
    There is no reset hook, so a connection is free again the moment it returns. It
    opens without waiting, so a server whose database is down still starts
    and answers 503 until the database returns.
    """
    pool = ConnectionPool(check=_check_if_idle, name="poiesis",
                          **_pool_options(conninfo, min_size, max_size, timeout))
    pool.open(wait=False)
    return pool


def open_async_pool(conninfo: str, *, min_size: int = 1, max_size: int = 10,
                    timeout: float = 5.0) -> AsyncConnectionPool:
    """The API's pool: as ``open_pool``, for psycopg's async connections; not open yet.

    An async pool belongs to the event loop that opens it, so the serving
    loop opens it (``AsyncStore.open``, from the app's lifespan).
    """
    return AsyncConnectionPool(check=_check_if_idle_async, name="poiesis-api",
                               **_pool_options(conninfo, min_size, max_size, timeout))


def _pool_options(conninfo: str, min_size: int, max_size: int, timeout: float) -> dict[str, Any]:
    """What both pools share: autocommit connections, bounds, the wait for a connection; opened later."""
    return {"conninfo": conninfo, "min_size": min_size, "max_size": max_size, "timeout": timeout,
            "kwargs": {"autocommit": True}, "open": False}


_HANDED_OUT_AT = "_poiesis_handed_out_at"


def _trusted(conn: psycopg.Connection | psycopg.AsyncConnection) -> bool:
    """Whether ``conn`` was handed out less than ``TRUSTED_IDLE_SECONDS`` ago; either way, it is stamped now.

    The stamp is put at checkout, in the check hook, not by a reset hook at return: psycopg_pool
    returns a connection through a background worker whenever a reset hook is set, so the
    connection is not free for the next request at once (measured: a third of the API's
    database CPU per GetTask went to that hand-off and to the waits it caused).
    """
    now = time.monotonic()
    last = getattr(conn, _HANDED_OUT_AT, None)
    setattr(conn, _HANDED_OUT_AT, now)
    return last is not None and now - last <= TRUSTED_IDLE_SECONDS


def _check_if_idle(conn: psycopg.Connection) -> None:
    """Pool check hook: an empty query, unless the connection was handed out less than a second ago."""
    if not _trusted(conn):
        ConnectionPool.check_connection(conn)


async def _check_if_idle_async(conn: psycopg.AsyncConnection) -> None:
    if not _trusted(conn):
        await AsyncConnectionPool.check_connection(conn)


def start_embedded(data_dir: Path) -> str:
    """Start (or reuse) the embedded PostgreSQL under ``data_dir``; returns its URI.

    The server keeps running after this process exits, like any database
    server, and is reused by the next start with the same data directory.
    """
    import pgserver  # imported here: only the embedded mode needs it

    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir, cleanup_mode=None)
    return server.get_uri()
