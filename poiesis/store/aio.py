"""The asynchronous task store: what the API's request path asks of PostgreSQL, awaited.

The same plans as the synchronous ``Store`` (``plans``: no SQL is written
twice), run on psycopg's async connections from an ``AsyncConnectionPool``,
so a request never leaves the event loop for a thread. The pool is opened
inside the serving event loop (the app's lifespan calls ``open``), and a
connection failure surfaces as ``Unavailable`` as in the sync store.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any, TypeVar, cast

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from generated.models import TesTask
from poiesis.store import plans
from poiesis.store.db import Unavailable
from poiesis.store.plans import NO_FILTER, Event, Op, Page, Position, Statement, TaskFilter, new_task_id
from poiesis.store.tasks import count_end, raise_unavailable

T = TypeVar("T")


async def execute(conn: psycopg.AsyncConnection[TupleRow], statement: Statement) -> Any:
    """Run one statement and return what its plan asked for."""
    if statement.many:
        async with conn.cursor() as cur:
            await cur.executemany(statement.sql, statement.params)
        return None
    cur = await conn.execute(statement.sql, statement.params)
    if statement.fetch == "one":
        return await cur.fetchone()
    if statement.fetch == "all":
        return await cur.fetchall()
    return cur.rowcount if statement.fetch == "rowcount" else None


async def run(conn: psycopg.AsyncConnection[TupleRow], op: Op[T]) -> T:
    """Run a plan on ``conn``, in a transaction when it asks for one."""
    async with conn.transaction() if op.transaction else contextlib.nullcontext():
        plan = op.plan
        try:
            statement = next(plan)
            while True:
                statement = plan.send(await execute(conn, statement))
        except StopIteration as stop:
            return cast(T, stop.value)


class AsyncStore:
    """The API's task store over an ``AsyncConnectionPool`` (opened by ``open`` in the serving loop)."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def open(self) -> None:
        """Open the pool without waiting for a connection: a database that is down means 503s, not no server."""
        await self._pool.open(wait=False)

    async def close(self) -> None:
        await self._pool.close()

    async def _run(self, op: Op[T]) -> T:
        try:
            async with self._pool.connection() as conn:
                return await run(conn, op)
        except PoolTimeout as exc:
            raise Unavailable(str(exc)) from exc
        except psycopg.Error as exc:
            raise_unavailable(exc)
            raise

    async def create_task(self, task: TesTask, *, owner: str | None = None) -> str:
        """Insert a task (QUEUED) with its children: one transaction, one round trip; returns its id."""
        return await self._run(plans.create_task(new_task_id(), task, owner=owner))

    async def get_task(self, task_id: str, *, view: str = "MINIMAL", as_text: bool = False,
                       owner: str | None = None) -> Any:
        """The task in the given view (a dict, or its JSON text with ``as_text``), or None."""
        return await self._run(plans.get_task(task_id, view=view, as_text=as_text, owner=owner))

    async def list_tasks(self, *, filters: TaskFilter = NO_FILTER, page_size: int = 256,
                         below_seq: int | None = None, view: str = "MINIMAL", as_text: bool = False,
                         max_bytes: int | None = None) -> Page:
        """One page of tasks, newest first (``plans.list_tasks``)."""
        return await self._run(plans.list_tasks(filters=filters, page_size=page_size, below_seq=below_seq,
                                                view=view, as_text=as_text, max_bytes=max_bytes))

    async def advance(self, task_id: str, target: str, *, at: datetime | None = None,
                      owner: str | None = None) -> str | None:
        """Move a task to a non-terminal ``target`` if the rules allow it; the state afterwards."""
        return await self._run(plans.advance(task_id, target, at=at, owner=owner))

    async def write_terminal_state(self, task_id: str, state: str, *, system_logs: Sequence[str] = (),
                                   ended_by: str | None = None) -> str | None:
        """Write a terminal state once; the state that holds afterwards (``plans.write_terminal_state``)."""
        op = plans.write_terminal_state(task_id, state, start_time=None, end_time=None, system_logs=system_logs,
                                        ended_by=ended_by)
        return count_end(await self._run(op), ended_by)

    async def add_system_logs(self, task_id: str, lines: Sequence[str]) -> bool:
        """Append lines to the task's system log; False, writing nothing, when the task ended."""
        return await self._run(plans.add_system_logs(task_id, lines))

    async def ping(self) -> None:
        """Raise ``Unavailable`` unless the database answers a query on the (migrated) tasks table."""
        await self._run(plans.ping())

    # -- the change feed (plans.events_after and its neighbours) --------------------

    async def events_after(self, after: Position, *, filters: TaskFilter = NO_FILTER, limit: int = 1000,
                           upto: Position | None = None, task_id: str | None = None) -> list[Event]:
        """Final events after ``after`` (not after ``upto``) matching ``filters``, in feed order."""
        return await self._run(plans.events_after(after, filters=filters, limit=limit, upto=upto, task_id=task_id))

    async def feed_head(self) -> Position:
        """The position after the newest final event."""
        return await self._run(plans.feed_head())

    async def event_position(self, seq: int) -> Position | None:
        """The position just after event ``seq``, or None when there is no such event."""
        return await self._run(plans.event_position(seq))

    async def count_by_state(self, *, owner: str | None = None) -> dict[str, int]:
        """How many tasks (of ``owner``, when given) are in each state."""
        return await self._run(plans.count_by_state(owner=owner))

    @contextlib.asynccontextmanager
    async def listen(self) -> AsyncIterator[Listener]:
        """A connection of its own LISTENing for new task events (a pooled one would be held for ever)."""
        try:
            conn = await psycopg.AsyncConnection.connect(str(self._pool.conninfo), autocommit=True)
        except psycopg.Error as exc:
            raise Unavailable(str(exc)) from exc
        async with conn:
            await conn.execute(f"LISTEN {plans.EVENTS_CHANNEL}")
            yield Listener(conn)


class Listener:
    """Wake-ups for new task events: the trigger of migration 0010 NOTIFYs; the rows are read separately."""

    def __init__(self, conn: psycopg.AsyncConnection[TupleRow]) -> None:
        self._conn = conn

    async def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a notification; True when one came (``Unavailable`` when lost)."""
        try:
            async for _ in self._conn.notifies(timeout=timeout, stop_after=1):
                return True
        except psycopg.Error as exc:
            raise Unavailable(str(exc)) from exc
        return False
