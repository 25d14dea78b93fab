"""The synchronous task store: TRec, TCtl, the local backend and the command line run plans here.

Every statement lives in ``plans``; this module only runs them on a pooled
connection (in one transaction when the plan asks for one)
and turns connection failures into ``Unavailable``. ``AsyncStore``
(``aio``) runs the same plans for the API.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, Protocol, TypeVar, cast

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool, PoolTimeout

from generated.models import TesTask
from poiesis import metrics
from poiesis.store import plans
from poiesis.store.db import Unavailable
from poiesis.store.plans import NO_FILTER, Ended, Op, Page, Statement, TaskFilter, new_task_id

T = TypeVar("T")

__all__ = ["Page", "RunWriter", "Store", "TaskFilter", "TaskStore", "count_end", "new_task_id"]


def execute(conn: psycopg.Connection[TupleRow], statement: Statement) -> Any:
    """Run one statement and return what its plan asked for."""
    if statement.many:
        with conn.cursor() as cur:
            cur.executemany(statement.sql, statement.params)
        return None
    cur = conn.execute(statement.sql, statement.params)
    if statement.fetch == "one":
        return cur.fetchone()
    if statement.fetch == "all":
        return cur.fetchall()
    return cur.rowcount if statement.fetch == "rowcount" else None


def run(conn: psycopg.Connection[TupleRow], op: Op[T]) -> T:
    """Run a plan on ``conn``, in a transaction when it asks for one."""
    with conn.transaction() if op.transaction else contextlib.nullcontext():
        plan = op.plan
        try:
            statement = next(plan)
            while True:
                statement = plan.send(execute(conn, statement))
        except StopIteration as stop:
            return cast(T, stop.value)


def count_end(ended: Ended, ended_by: str | None) -> str | None:
    """Count a terminal write that landed (once committed); the state that holds."""
    if ended.landed and ended.state is not None:
        metrics.TASKS_ENDED.labels(ended.state, ended_by or "unknown").inc()
    return ended.state


class Store:
    """Task state in PostgreSQL, reached through a connection pool (see ``plans`` for each operation)."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    def close(self) -> None:
        """Close the pool."""
        self._pool.close()

    def _run(self, op: Op[T]) -> T:
        with _Guarded(self._pool) as conn:
            return run(conn, op)

    # -- creating and reading -------------------------------------------------

    def create_task(self, task: TesTask, *, owner: str | None = None) -> str:
        """Insert a task (QUEUED) with all its children in one transaction; returns its id."""
        return self._run(plans.create_task(new_task_id(), task, owner=owner))

    def get_task(
        self, task_id: str, *, view: str = "MINIMAL", as_text: bool = False, owner: str | None = None
    ) -> Any:
        """The task in the given view (a dict, or its JSON text with ``as_text``), or None."""
        return self._run(plans.get_task(task_id, view=view, as_text=as_text, owner=owner))

    def get_task_model(self, task_id: str) -> TesTask | None:
        """The task in the FULL view as the generated model, for the backends that run it; None when there is none.

        The one place a stored task is parsed back into a ``TesTask``: PostgreSQL's JSON text
        goes straight to pydantic's JSON parser.
        """
        text = self.get_task(task_id, view="FULL", as_text=True)
        return None if text is None else TesTask.model_validate_json(text)

    def get_state(self, task_id: str) -> str | None:
        """The task's state, or None when there is no such task."""
        return self._run(plans.get_state(task_id))

    def list_tasks(
        self,
        *,
        filters: TaskFilter = NO_FILTER,
        page_size: int = 256,
        below_seq: int | None = None,
        view: str = "MINIMAL",
        as_text: bool = False,
        max_bytes: int | None = None,
    ) -> Page:
        """One page of tasks, newest first (``plans.list_tasks``)."""
        return self._run(plans.list_tasks(filters=filters, page_size=page_size, below_seq=below_seq, view=view,
                                          as_text=as_text, max_bytes=max_bytes))

    def ids_in_states(self, wanted: Iterable[str]) -> list[str]:
        """Ids of tasks in any of ``wanted`` states, oldest first (for reconcilers)."""
        return self._run(plans.ids_in_states(wanted))

    # -- state changes ---------------------------------------------------------

    def advance(
        self, task_id: str, target: str, *, at: datetime | None = None, owner: str | None = None
    ) -> str | None:
        """Move a task to a non-terminal ``target`` if the rules allow it; the state afterwards (``plans.advance``)."""
        return self._run(plans.advance(task_id, target, at=at, owner=owner))

    def write_terminal_state(
        self,
        task_id: str,
        state: str,
        *,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        system_logs: Sequence[str] = (),
        ended_by: str | None = None,
        outputs: Sequence[Mapping[str, Any]] = (),
    ) -> str | None:
        """Write a terminal state once, with its lines and output file logs; the state that holds afterwards.

        ``plans.write_terminal_state``: the lines and outputs land only with the end.
        """
        op = plans.write_terminal_state(task_id, state, start_time=start_time, end_time=end_time,
                                        system_logs=system_logs, ended_by=ended_by, outputs=outputs)
        return count_end(self._run(op), ended_by)

    # -- logs ------------------------------------------------------------------

    def add_executor_log(
        self,
        task_id: str,
        *,
        index: int,
        exit_code: int,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        stdout: str | None = None,
        stderr: str | None = None,
    ) -> bool:
        """Record one executor's end; True when new, False when it was already there or the task ended."""
        return self._run(plans.add_executor_log(task_id, index=index, exit_code=exit_code, start_time=start_time,
                                                end_time=end_time, stdout=stdout, stderr=stderr))

    def add_system_logs(self, task_id: str, lines: Sequence[str]) -> bool:
        """Append lines to the task's system log; False, writing nothing, when the task ended."""
        return self._run(plans.add_system_logs(task_id, lines))

    # -- health and reconcilers -------------------------------------------------

    def ping(self) -> None:
        """Raise ``Unavailable`` unless the database answers a query on the (migrated) tasks table."""
        self._run(plans.ping())

    def count_by_state(self) -> dict[str, int]:
        """How many tasks are in each state (states with none are absent)."""
        return self._run(plans.count_by_state())

    def active_tasks(self, ids: Collection[str] | None = None) -> dict[str, tuple[str, datetime]]:
        """Every non-terminal task (of ``ids``, when given): id -> (state, creation time), for the controller."""
        return self._run(plans.active_tasks(ids))

    def declares_outputs(self, task_id: str) -> bool:
        """Whether the task declared outputs."""
        return bool(self._run(plans.declares_outputs(task_id)))

    def task_secret(self, task_id: str) -> str:
        """The task's secret, for its Pod (``plans.task_secret``; docs/security.md)."""
        return self._run(plans.task_secret(task_id))


class RunWriter(Protocol):
    """What a recorder (``record.Recorder``) writes and reads about a task's run: ``Store`` or ``TaskStore``."""

    def get_state(self, task_id: str) -> str | None: ...

    def declares_outputs(self, task_id: str) -> bool: ...

    def advance(self, task_id: str, target: str, *, at: datetime | None = None) -> str | None: ...

    def add_executor_log(self, task_id: str, *, index: int, exit_code: int, start_time: datetime | None = None,
                         end_time: datetime | None = None, stdout: str | None = None,
                         stderr: str | None = None) -> bool: ...

    def add_system_logs(self, task_id: str, lines: Sequence[str]) -> bool: ...

    def write_terminal_state(self, task_id: str, state: str, *, start_time: datetime | None = None,
                             end_time: datetime | None = None, system_logs: Sequence[str] = (),
                             ended_by: str | None = None, outputs: Sequence[Mapping[str, Any]] = ()) -> str | None: ...


class TaskStore:
    """One task's run, written with the task's secret over a credential that can do nothing else (TRec's).

    Every call goes through a ``task_record_*`` function (migration 0007), which checks the
    secret and runs the same write as ``Store``; any other task id is refused here, and the
    database refuses it too. The terminal write is ``task_end``, ended_by 'trec'.
    """

    def __init__(self, pool: ConnectionPool, task_id: str, secret: str) -> None:
        self._pool, self.task_id, self._secret = pool, task_id, secret

    def close(self) -> None:
        self._pool.close()

    def _run(self, task_id: str, op: Callable[[str, str], Op[T]]) -> T:
        if task_id != self.task_id:
            raise ValueError(f"this store writes task {self.task_id} only, not {task_id}")
        with _Guarded(self._pool) as conn:
            return run(conn, op(task_id, self._secret))

    def get_state(self, task_id: str) -> str | None:
        return self._run(task_id, plans.record_task)[0]

    def declares_outputs(self, task_id: str) -> bool:
        return self._run(task_id, plans.record_task)[1]

    def advance(self, task_id: str, target: str, *, at: datetime | None = None) -> str | None:
        return self._run(task_id, lambda t, s: plans.record_advance(t, s, target, at=at))

    def add_executor_log(self, task_id: str, *, index: int, exit_code: int, start_time: datetime | None = None,
                         end_time: datetime | None = None, stdout: str | None = None,
                         stderr: str | None = None) -> bool:
        return bool(self._run(task_id, lambda t, s: plans.record_executor_log(
            t, s, index=index, exit_code=exit_code, start_time=start_time, end_time=end_time, stdout=stdout,
            stderr=stderr)))

    def add_system_logs(self, task_id: str, lines: Sequence[str]) -> bool:
        return bool(self._run(task_id, lambda t, s: plans.record_system_logs(t, s, lines)))

    def write_terminal_state(self, task_id: str, state: str, *, start_time: datetime | None = None,
                             end_time: datetime | None = None, system_logs: Sequence[str] = (),
                             ended_by: str | None = None, outputs: Sequence[Mapping[str, Any]] = ()) -> str | None:
        """The one terminal write (``task_end``) with the secret; ``ended_by`` is always 'trec'."""
        if ended_by not in (None, "trec"):
            raise ValueError(f"a task's own credential ends it as trec, not {ended_by}")
        ended = self._run(task_id, lambda t, s: plans.record_end(
            t, s, state, start_time=start_time, end_time=end_time, system_logs=system_logs, outputs=outputs))
        return count_end(ended, "trec")


class _Guarded:
    """A pooled connection whose connection failures surface as ``Unavailable``."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self._cm: AbstractContextManager[psycopg.Connection[TupleRow]] | None = None

    def __enter__(self) -> psycopg.Connection[TupleRow]:
        self._cm = self._pool.connection()
        try:
            return self._cm.__enter__()
        except (PoolTimeout, psycopg.OperationalError) as exc:
            raise Unavailable(str(exc)) from exc

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Literal[False]:
        assert self._cm is not None, "__exit__ without __enter__"
        self._cm.__exit__(exc_type, exc, tb)
        raise_unavailable(exc)
        return False


def raise_unavailable(exc: BaseException | None) -> None:
    """Raise ``Unavailable`` for a failure that means the database cannot serve now.

    UndefinedTable: the server started while the database was down and has not migrated yet.
    """
    if isinstance(exc, psycopg.OperationalError | psycopg.errors.UndefinedTable):
        raise Unavailable(str(exc)) from exc
