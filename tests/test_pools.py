"""The store's connection pools on a real PostgreSQL: a connection whose server process died is replaced.

A pooled connection handed out less than ``TRUSTED_IDLE_SECONDS`` ago goes
out again unchecked (a round trip saved per request under load); an older
one is checked first, so a database restart or an idle-connection reaper
costs no request. Both pools, the sync one (TRec, TCtl, the local backend)
and the API's async one.
"""

from __future__ import annotations

import asyncio
import time

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from poiesis import store
from poiesis.store import db

#: short enough for a quick test, long against the few milliseconds between two requests here
TRUSTED = 0.3


def _terminate(admin_url: str, pid: int) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        assert conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)


def _pid_sync(pool: ConnectionPool) -> int:
    with pool.connection() as conn:
        return conn.execute("SELECT pg_backend_pid()").fetchone()[0]


def test_the_sync_pool_replaces_a_connection_killed_while_idle(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "TRUSTED_IDLE_SECONDS", TRUSTED)
    pool = store.open_pool(db_url, min_size=1, max_size=1)
    try:
        pool.wait()
        first = _pid_sync(pool)
        assert _pid_sync(pool) == first, "a connection just used is handed out again"
        _terminate(db_url, first)
        time.sleep(TRUSTED * 2)
        store.Store(pool).ping()  # checked before it went out, found dead, replaced: the request never sees it
        assert _pid_sync(pool) != first
    finally:
        pool.close()


def test_the_async_pool_replaces_a_connection_killed_while_idle(db_url: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "TRUSTED_IDLE_SECONDS", TRUSTED)

    async def pid(pool: AsyncConnectionPool) -> int:
        async with pool.connection() as conn:
            return (await (await conn.execute("SELECT pg_backend_pid()")).fetchone())[0]

    async def scenario() -> None:
        pool = store.open_async_pool(db_url, min_size=1, max_size=1)
        async_store = store.AsyncStore(pool)
        await async_store.open()
        try:
            await pool.wait()
            first = await pid(pool)
            assert await pid(pool) == first, "a connection just used is handed out again"
            _terminate(db_url, first)
            await asyncio.sleep(TRUSTED * 2)
            await async_store.ping()
            assert await pid(pool) != first
        finally:
            await async_store.close()

    asyncio.run(scenario())

