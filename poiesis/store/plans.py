"""Every statement about tasks, written once and run from either world: the store's sans-I/O core.

Each operation is a *plan*: a generator that yields ``Statement``s, receives each one's
result, and returns the operation's value. A plan does no I/O, so the synchronous ``Store``
(TRec, TCtl, the local backend) and the asynchronous ``AsyncStore`` (the API's request path)
run the same SQL with the same control flow, each through its own small runner
(``Store`` in ``tasks``, ``AsyncStore`` in ``aio``). psycopg is built the same way: one set
of protocol generators under its sync and async connections.

Each state change is one guarded UPDATE whose WHERE clause comes from the transition rules in
``poiesis.states``; it returns what landed, so a duplicate or late write is a harmless no-op.
``write_terminal_state`` is the single statement that makes the races between the API, TRec
and TCtl write-once. The writes to a task's run (state steps, executor logs, system log lines,
the end with its output file logs) are SQL functions of migration 0006, called here: each is
guarded by the task not being terminal, so nothing lands on a task after its end.

Must not: import a connection, pool or event loop; read the clock (PostgreSQL's
``clock_timestamp()`` stamps every time).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Collection, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from psycopg.types.json import Jsonb

from generated.models import TesTask
from poiesis import lifecycle, states

T = TypeVar("T")
Fetch = Literal["none", "one", "all", "rowcount"]


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement to execute and what its plan wants back (``many``: executemany over ``params``)."""

    sql: str
    params: Any = None
    fetch: Fetch = "none"
    many: bool = False


#: A plan: yields statements, is sent each one's result (a row, rows, a row count or None), returns T.
Plan = Generator[Statement, Any, T]


@dataclass(frozen=True, slots=True)
class Op(Generic[T]):
    """A plan and how to run it: in one transaction or not."""

    plan: Plan[T]
    transaction: bool = False


_TS = """to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""

TERMINAL = [s.value for s in states.TERMINAL]


@dataclass(frozen=True)
class Page:
    """One page of ListTasks: the tasks and the seq to continue below, if any."""

    tasks: list[Any]  # dicts, or JSON texts when listed with as_text
    next_seq: int | None


@dataclass(frozen=True)
class TaskFilter:
    """ListTasks filters; ``tags`` maps key to value, '' meaning any value."""

    name_prefix: str | None = None
    state: str | None = None
    tags: Mapping[str, str] | None = None
    #: Only tasks of this owner (None: every task, for administrators).
    owner: str | None = None


#: ListTasks without filters: every task.
NO_FILTER = TaskFilter()


@dataclass(frozen=True)
class Ended:
    """What a terminal write left: the state that holds, and whether this write is the one that landed."""

    state: str | None
    landed: bool


def new_task_id() -> str:
    """A fresh opaque task id."""
    return str(uuid.uuid4())


def _like_prefix(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def _task_json_sql(*, full: bool) -> str:
    """SQL for one task (alias t) as a JSON object in the tesTask shape.

    What never changes after CreateTask comes from ``t.request``, written once
    by ``task_request_json`` (migration 0004); the state and the logs are
    assembled here, and FULL adds the inputs' content.
    """
    heavy_inputs = "'inputs', task_inputs_json(t.id, true), " if full else ""
    heavy_exec = ", 'stdout', e.stdout, 'stderr', e.stderr" if full else ""
    system_logs = (
        ", 'system_logs', CASE WHEN cardinality(l.system_logs) > 0 THEN to_jsonb(l.system_logs) END"
        if full
        else ""
    )
    return f"""
    t.request || jsonb_strip_nulls(jsonb_build_object(
      {heavy_inputs}'id', t.id, 'state', t.state,
      'creation_time', {_TS.format(col='t.creation_time')},
      'logs', (SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
            'start_time', {_TS.format(col='l.start_time')},
            'end_time', {_TS.format(col='l.end_time')},
            'metadata', CASE WHEN l.metadata <> '{{}}'::jsonb THEN l.metadata END
            {system_logs},
            'logs', coalesce((SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                  'start_time', {_TS.format(col='e.start_time')},
                  'end_time', {_TS.format(col='e.end_time')},
                  'exit_code', e.exit_code{heavy_exec})) ORDER BY e.idx)
               FROM executor_logs e WHERE e.task_id = l.task_id AND e.attempt = l.attempt), '[]'::jsonb),
            'outputs', coalesce((SELECT jsonb_agg(jsonb_build_object(
                  'url', f.url, 'path', f.path, 'size_bytes', f.size_bytes::text) ORDER BY f.idx)
               FROM output_file_logs f WHERE f.task_id = l.task_id AND f.attempt = l.attempt), '[]'::jsonb)
            )) ORDER BY l.attempt)
         FROM task_logs l WHERE l.task_id = t.id)
    ))"""


_MINIMAL_SQL = "jsonb_build_object('id', t.id, 'state', t.state)"


@functools.cache
def _projection(view: str, *, as_text: bool = False) -> str:
    sql = _MINIMAL_SQL if view == "MINIMAL" else _task_json_sql(full=(view == "FULL"))
    return f"({sql})::text" if as_text else sql


@functools.cache
def _get_sql(view: str, as_text: bool) -> str:
    """GetTask's one statement per view: the same text every time, so psycopg prepares it."""
    return (f"SELECT {_projection(view, as_text=as_text)} FROM tasks t"
            " WHERE t.id = %s AND (%s::text IS NULL OR t.owner = %s)")


# -- creating and reading ------------------------------------------------------


def create_task(task_id: str, task: TesTask, *, owner: str | None) -> Op[str]:
    """Insert a task (QUEUED) with all its children and its request document: one statement.

    The SQL function ``create_task`` (migration 0005) writes every row from the task's JSON,
    so a task costs one round trip and one commit. The task's read-only members (id, state,
    logs, creation_time) are not stored.
    """

    def plan() -> Plan[str]:
        yield Statement("SELECT create_task(%s, %s, %s::jsonb)",
                        (task_id, owner, task.model_dump_json(exclude_none=True)), fetch="one")
        return task_id

    return Op(plan())


def get_task(task_id: str, *, view: str, as_text: bool, owner: str | None) -> Op[Any]:
    """The task in the given view (a dict, or its JSON text), or None (also for another owner's task)."""

    def plan() -> Plan[Any]:
        row = yield Statement(_get_sql(view, as_text), (task_id, owner, owner), fetch="one")
        return row[0] if row else None

    return Op(plan())


def get_state(task_id: str) -> Op[str | None]:
    """The task's state, or None when there is no such task."""
    return Op(_one_value("SELECT state FROM tasks WHERE id = %s", (task_id,)))


def list_tasks(*, filters: TaskFilter, page_size: int, below_seq: int | None, view: str, as_text: bool,
               max_bytes: int | None) -> Op[Page]:
    """One page of tasks, newest first, strictly below ``below_seq`` when given.

    ``max_bytes`` bounds the page: the page ends before the task whose JSON
    would take the total past it (the first task is always included), so a
    page of large tasks is short and carries a next position instead of
    growing without bound. One statement: PostgreSQL sums the sizes in
    order and sends no task beyond the first one past the bound.
    """
    where, params = _filter_sql(filters, below_seq)
    params["limit"] = page_size + 1

    def plan() -> Plan[Page]:
        rows = yield Statement(_list_sql(view, where, as_text=as_text, bounded=max_bytes is not None),
                               {**params, "max_bytes": max_bytes}, fetch="all")
        return _page(rows, page_size=page_size, max_bytes=max_bytes)

    return Op(plan())


def _page(rows: Sequence[tuple[int, Any, int]], *, page_size: int, max_bytes: int | None) -> Page:
    kept: list[tuple[int, Any]] = []
    more = False
    used = 0
    for seq, task, size in rows:
        if len(kept) == page_size or (max_bytes is not None and kept and used + size > max_bytes):
            more = True
            break
        kept.append((seq, task))
        used += size
    return Page(tasks=[t for _, t in kept], next_seq=kept[-1][0] if more else None)


def ids_in_states(wanted: Iterable[str]) -> Op[list[str]]:
    """Ids of tasks in any of ``wanted`` states, oldest first (for reconcilers)."""

    def plan() -> Plan[list[str]]:
        rows = yield Statement("SELECT id FROM tasks WHERE state = ANY(%s) ORDER BY seq", (list(wanted),),
                               fetch="all")
        return [r[0] for r in rows]

    return Op(plan())


def ping() -> Op[None]:
    """Fails unless the database answers a query on the (migrated) tasks table."""

    def plan() -> Plan[None]:
        yield Statement("SELECT 1 FROM tasks LIMIT 0", fetch="all")

    return Op(plan())


def count_by_state(*, owner: str | None = None) -> Op[dict[str, int]]:
    """How many tasks are in each state (states with none are absent); only ``owner``'s when given."""

    def plan() -> Plan[dict[str, int]]:
        rows = yield Statement("SELECT state, count(*) FROM tasks WHERE (%s::text IS NULL OR owner = %s)"
                               " GROUP BY state", (owner, owner), fetch="all")
        return {r[0]: r[1] for r in rows}

    return Op(plan())


def active_tasks(ids: Collection[str] | None) -> Op[dict[str, tuple[str, datetime]]]:
    """Every non-terminal task (of ``ids``, when given): id -> (state, creation time), for the controller."""

    def plan() -> Plan[dict[str, tuple[str, datetime]]]:
        if ids is not None and not ids:
            return {}
        if ids is None:
            statement = Statement("SELECT id, state, creation_time FROM tasks WHERE state <> ALL(%s)",
                                  (TERMINAL,), fetch="all")
        else:
            statement = Statement(
                "SELECT id, state, creation_time FROM tasks WHERE id = ANY(%s) AND state <> ALL(%s)",
                (list(ids), TERMINAL), fetch="all",
            )
        rows = yield statement
        return {r[0]: (r[1], r[2]) for r in rows}

    return Op(plan())


# -- state changes -------------------------------------------------------------


def advance(task_id: str, target: str, *, at: datetime | None, owner: str | None) -> Op[str | None]:
    """Move a task to a non-terminal ``target`` if the rules allow it (``task_advance``, migration 0006).

    Returns the task's state afterwards (the target when it landed), or
    None when there is no such task (or, with ``owner``, it is another
    owner's). RUNNING also stamps the start time.
    """
    goal = states.State(target)
    if goal in states.TERMINAL:
        raise ValueError("terminal states are written by write_terminal_state")
    allowed = [s.value for s in states.sources(goal)]
    return Op(_one_value("SELECT task_advance(%s, %s, %s::text[], %s::timestamptz, %s)", (task_id, goal.value, allowed, at, owner)))


def write_terminal_state(task_id: str, state: str, *, start_time: datetime | None, end_time: datetime | None,
                         system_logs: Sequence[str], ended_by: str | None,
                         outputs: Sequence[Mapping[str, Any]] = ()) -> Op[Ended]:
    """Write a terminal state once; the state that holds afterwards, and whether this write landed.

    One guarded UPDATE (``task_end``, migration 0006): it matches only a
    non-terminal row and turns any terminal write on a CANCELING row into
    CANCELED. A terminal row is left as it is, and nothing else is written.
    ``system_logs`` are the reason for this end and ``outputs`` the output
    file logs of the run (url, path, size_bytes): both are written in the
    same transaction, and only when this write landed, so a task carries the
    lines and outputs of the write that ended it and never those of a loser.
    ``ended_by`` names the writer ('trec', 'tctl', 'api', 'local').
    ``start_time`` fills a start no RUNNING write stamped; the end time is
    never before the start (see docs/store.md). State None when there is no
    such task. A write that lands CANCELED because a cancel came first says
    so: ``lifecycle.cancelled``'s line, then this write's.
    """
    return _ended("SELECT landed_state, landed FROM task_end(%s, %s, %s::timestamptz, %s::timestamptz, %s,"
                  " %s::text[], %s::text[], %s)",
                  (task_id, state, start_time, end_time, ended_by, *_end_args(state, system_logs, outputs)))


def _ended(sql: str, params: tuple[Any, ...]) -> Op[Ended]:
    """Run a terminal write that returns (landed_state, landed)."""

    def plan() -> Plan[Ended]:
        row = yield Statement(sql, params, fetch="one")
        return Ended(row[0], landed=bool(row[1]))

    return Op(plan())


def _end_args(state: str, system_logs: Sequence[str], outputs: Sequence[Mapping[str, Any]]) -> tuple[Any, ...]:
    """``task_end``'s lines, lines when it lands CANCELED instead (``lifecycle.cancelled``), and outputs."""
    if states.State(state) not in states.TERMINAL:
        raise ValueError(f"{state} is not a terminal state")
    lines = list(system_logs)
    cancelled = lines if state == states.State.CANCELED else list(
        lifecycle.cancelled(lifecycle.End(state, tuple(lines))).lines)  # type: ignore[arg-type]
    rows = [{"url": o["url"], "path": o["path"], "size_bytes": str(o["size_bytes"])} for o in outputs]
    return lines, cancelled, Jsonb(rows)


def declares_outputs(task_id: str) -> Op[bool]:
    """Whether the task declared outputs."""
    return Op(_one_value("SELECT EXISTS (SELECT 1 FROM task_outputs WHERE task_id = %s)", (task_id,)))


def task_secret(task_id: str) -> Op[str]:
    """The task's secret (``task_secret``, migration 0007): what its Pod's recorder proves itself with."""
    return Op(_one_value("SELECT task_secret(%s)", (task_id,)))


# -- a task Pod's writes (migration 0007) --------------------------------------
# The same writes as above, for one task, through the functions a task's credential may call: each
# checks the task's secret and then runs the same SQL function as the API's and TCtl's write.


def record_task(task_id: str, secret: str) -> Op[tuple[str | None, bool]]:
    """The task's state and whether it declared outputs, read with its secret."""

    def plan() -> Plan[tuple[str | None, bool]]:
        row = yield Statement("SELECT state, declares_outputs FROM task_record_task(%s, %s)", (task_id, secret),
                              fetch="one")
        return row[0], bool(row[1])

    return Op(plan())


def record_advance(task_id: str, secret: str, target: str, *, at: datetime | None) -> Op[str | None]:
    """``advance`` (INITIALIZING, RUNNING) with the task's secret."""
    allowed = [s.value for s in states.sources(states.State(target))]
    return Op(_one_value("SELECT task_record_advance(%s, %s, %s, %s::text[], %s::timestamptz)",
                         (task_id, secret, states.State(target).value, allowed, at)))


def record_executor_log(task_id: str, secret: str, *, index: int, exit_code: int, start_time: datetime | None,
                        end_time: datetime | None, stdout: str | None, stderr: str | None) -> Op[bool]:
    """``add_executor_log`` with the task's secret."""
    return Op(_one_value(
        "SELECT task_record_executor_log(%s, %s, %s::integer, %s::integer, %s::timestamptz, %s::timestamptz, %s, %s)",
        (task_id, secret, index, exit_code, start_time, end_time, stdout, stderr)))


def record_system_logs(task_id: str, secret: str, lines: Sequence[str]) -> Op[bool]:
    """``add_system_logs`` with the task's secret."""
    return Op(_one_value("SELECT task_record_system_logs(%s, %s, %s::text[])", (task_id, secret, list(lines))))


def record_end(task_id: str, secret: str, state: str, *, start_time: datetime | None, end_time: datetime | None,
               system_logs: Sequence[str], outputs: Sequence[Mapping[str, Any]]) -> Op[Ended]:
    """``write_terminal_state`` (ended_by 'trec') with the task's secret: the same ``task_end``."""
    return _ended("SELECT landed_state, landed FROM task_record_end(%s, %s, %s, %s::timestamptz, %s::timestamptz,"
                  " %s::text[], %s::text[], %s)",
                  (task_id, secret, state, start_time, end_time, *_end_args(state, system_logs, outputs)))


# -- logs ----------------------------------------------------------------------


def add_executor_log(task_id: str, *, index: int, exit_code: int, start_time: datetime | None,
                     end_time: datetime | None, stdout: str | None, stderr: str | None) -> Op[bool]:
    """Record one executor's end (``task_add_executor_log``, migration 0006); True when it landed now.

    False when it was already there, or when the task ended (nothing is written to
    a task after its terminal state). An end before the start is clamped to the start.
    """

    def plan() -> Plan[bool]:
        value = yield from _one_value(
            "SELECT task_add_executor_log(%s, %s::integer, %s::integer, %s::timestamptz, %s::timestamptz, %s, %s)",
            (task_id, index, exit_code, start_time, end_time, stdout, stderr))
        return bool(value)

    return Op(plan())


def add_system_logs(task_id: str, lines: Sequence[str]) -> Op[bool]:
    """Append lines to the task's system log (``task_add_system_logs``); False, writing nothing, when it ended."""

    def plan() -> Plan[bool]:
        value = yield from _one_value("SELECT task_add_system_logs(%s, %s::text[])", (task_id, list(lines)))
        return bool(value)

    return Op(plan())


# -- the change feed -----------------------------------------------------------
#
# Events are rows of task_events (migration 0010), written by a trigger with every state change.
# A reader reads only *final* events, those whose transaction is older than every transaction
# still running, in (xid, seq) order: no event can appear behind a position once read, so a
# reader resumes after any event it saw without losing one (docs/api.md, "The change feed").

_FINAL = "e.xid < pg_snapshot_xmin(pg_current_snapshot())"
#: The channel the trigger NOTIFYs (migration 0010).
EVENTS_CHANNEL = "poiesis_task_events"


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """A place in the feed: just after the event with this (transaction id, seq)."""

    xid: int
    seq: int


#: Before the first event.
START = Position(0, 0)


@dataclass(frozen=True, slots=True)
class Event:
    """One task event as the feed sends it, with the task's filterable fields (name, owner, tags)."""

    position: Position
    task_id: str
    n: int  # the task's own event number, 1 for its creation
    kind: str  # 'state' (later kinds, such as log updates, are more rows of the same table)
    state: str
    time: str
    name: str | None
    owner: str | None
    tags: dict[str, str]


def events_after(after: Position, *, filters: TaskFilter, limit: int, upto: Position | None = None,
                 task_id: str | None = None) -> Op[list[Event]]:
    """Up to ``limit`` final events after ``after`` (and not after ``upto``) that match ``filters``, in order.

    ``filters.state`` matches the state the event reports; the other filters
    are ListTasks' (``_filter_sql``), on the event's task; ``task_id``: that task's only.
    """
    where, params = _filter_sql(filters, None, state_column="e.state")
    if task_id is not None:
        where += " AND e.task_id = %(task_id)s"
        params["task_id"] = task_id
    bound = " AND (e.xid, e.seq) <= (%(upto_xid)s::text::xid8, %(upto_seq)s)" if upto is not None else ""
    sql = (
        f"SELECT e.seq, e.xid::text, e.task_id, e.n, e.kind, e.state, {_TS.format(col='e.at')}, t.name, t.owner,"
        " t.tags FROM task_events e JOIN tasks t ON t.id = e.task_id"
        f" WHERE (e.xid, e.seq) > (%(xid)s::text::xid8, %(seq)s) AND {_FINAL}{bound} AND {where}"
        " ORDER BY e.xid, e.seq LIMIT %(limit)s"
    )
    params.update(xid=str(after.xid), seq=after.seq, limit=limit)
    if upto is not None:
        params.update(upto_xid=str(upto.xid), upto_seq=upto.seq)

    def plan() -> Plan[list[Event]]:
        rows = yield Statement(sql, params, fetch="all")
        return [Event(Position(int(r[1]), r[0]), task_id=r[2], n=r[3], kind=r[4], state=r[5], time=r[6], name=r[7],
                      owner=r[8], tags=r[9] or {}) for r in rows]

    return Op(plan())


def feed_head() -> Op[Position]:
    """The position after the newest final event (``START`` when there is none)."""

    def plan() -> Plan[Position]:
        row = yield Statement(f"SELECT e.seq, e.xid::text FROM task_events e WHERE {_FINAL}"
                              " ORDER BY e.xid DESC, e.seq DESC LIMIT 1", fetch="one")
        return START if row is None else Position(int(row[1]), row[0])

    return Op(plan())


def event_position(seq: int) -> Op[Position | None]:
    """The position just after event ``seq`` (0: the start), or None when there is no such event."""

    def plan() -> Plan[Position | None]:
        if seq == 0:
            return START
        xid = yield from _one_value("SELECT xid::text FROM task_events WHERE seq = %s", (seq,))
        return None if xid is None else Position(int(xid), seq)

    return Op(plan())


# -- pieces of plans -----------------------------------------------------------


def _one_value(sql: str, params: Any) -> Plan[Any]:
    row = yield Statement(sql, params, fetch="one")
    return row[0] if row else None


def _list_sql(view: str, where: str, *, as_text: bool, bounded: bool) -> str:
    """One page of (seq, doc, size), newest first; ``bounded``: nothing after the first row past max_bytes."""
    page = (
        "SELECT t.seq, d.doc, s.size"
        + (", sum(s.size) OVER (ORDER BY t.seq DESC ROWS UNBOUNDED PRECEDING) AS upto" if bounded else "")
        + f" FROM tasks t CROSS JOIN LATERAL (SELECT {_projection(view, as_text=as_text)} AS doc OFFSET 0) d"
        " CROSS JOIN LATERAL (SELECT octet_length(d.doc::text) AS size) s"
        f" WHERE {where} ORDER BY t.seq DESC LIMIT %(limit)s"
    )
    if not bounded:
        return page
    return f"SELECT seq, doc, size FROM ({page}) p WHERE upto - size <= %(max_bytes)s ORDER BY seq DESC"


def _filter_sql(filters: TaskFilter, below_seq: int | None, *,
                state_column: str = "t.state") -> tuple[str, dict[str, Any]]:
    clauses, params = ["TRUE"], dict[str, Any]()
    if below_seq is not None:
        clauses.append("t.seq < %(below)s")
        params["below"] = below_seq
    if filters.owner is not None:
        clauses.append("t.owner = %(owner)s")
        params["owner"] = filters.owner
    if filters.name_prefix:
        clauses.append("t.name LIKE %(prefix)s")
        params["prefix"] = _like_prefix(filters.name_prefix)
    if filters.state:
        clauses.append(f"{state_column} = %(state)s")
        params["state"] = filters.state
    tags = dict(filters.tags or {})
    exact = {k: v for k, v in tags.items() if v != ""}
    any_value = [k for k, v in tags.items() if v == ""]
    if exact:
        clauses.append("t.tags @> %(exact)s")
        params["exact"] = Jsonb(exact)
    if any_value:
        clauses.append("t.tags ?& %(keys)s")
        params["keys"] = any_value
    return " AND ".join(clauses), params
