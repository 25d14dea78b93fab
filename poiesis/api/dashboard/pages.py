"""The dashboard's pages, a Flask app: the task list, one task, its cancel button, the counts.

Every read goes through the API's ``AsyncStore`` (the plans ListTasks and GetTask use, with the
caller's ownership: ``principal.visible_owner``); the list asks for BASIC, never FULL, and only
a task page reads FULL. Pages are rendered here; ``static/dashboard.js`` only follows the feed
and swaps in what the server renders. Responses carry a Content-Security-Policy that allows
nothing but this origin.
"""

from __future__ import annotations

import shlex
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

import flask
from werkzeug.datastructures import MultiDict

from poiesis import states
from poiesis.api.hardening import principal
from poiesis.api.tes import tokens
from poiesis.api.tes.context import DASHBOARD_PATH, Context
from poiesis.store import TaskFilter, Unavailable

T = TypeVar("T")
Run = Callable[[Awaitable[Any]], Any]

PAGE_SIZE = 50
STATES = [s.value for s in states.State if s is not states.State.UNKNOWN]
TERMINAL = frozenset(s.value for s in states.TERMINAL)
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self';"
       " form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


class BadQuery(Exception):
    """A filter the list refuses (shown on the page, 400)."""


def create(context: Context, run: Run) -> flask.Flask:
    """The Flask app of the dashboard over ``context``; ``run`` awaits a store call on the serving loop."""
    app = flask.Flask(__name__, static_url_path=DASHBOARD_PATH + "static")
    app.jinja_env.filters["when"] = _when
    app.jinja_env.filters["shell"] = shlex.join
    app.jinja_env.globals.update(STATES=STATES, TERMINAL=TERMINAL, BASE=DASHBOARD_PATH)
    store = context.store

    def owner() -> str | None:
        return principal.visible_owner(principal.of(flask.request.environ["asgi.scope"]))

    @app.get(DASHBOARD_PATH)
    def task_list() -> Any:
        try:
            filters, below = _list_query(flask.request.args, owner())
        except BadQuery as exc:
            return _error(400, str(exc))
        head = run(store.feed_head())  # before the list: the page follows every event after what it shows
        page = run(store.list_tasks(filters=filters, page_size=PAGE_SIZE, below_seq=below, view="BASIC"))
        counts = run(store.count_by_state(owner=filters.owner))
        args = flask.request.args
        feed = {"since": head.seq, "name_prefix": filters.name_prefix or "",
                "tag_key": list(filters.tags or {}), "tag_value": list((filters.tags or {}).values())}
        nxt = None if page.next_seq is None else _with(args, page=tokens.encode(page.next_seq))
        first = _with(args, page=None)
        return flask.render_template(
            "list.html", tasks=page.tasks, counts=counts, total=sum(counts.values()), args=args,
            tags=_tag_text(filters), next_url=nxt, first_url=first, first_page=below is None,
            feed=DASHBOARD_PATH + "events?" + urlencode({k: v for k, v in feed.items() if v != ""}, doseq=True),
            counts_url=DASHBOARD_PATH + "counts",
        )

    @app.get(DASHBOARD_PATH + "counts")
    def counts() -> Any:
        return flask.jsonify(run(store.count_by_state(owner=owner())))

    @app.get(DASHBOARD_PATH + "tasks/<task_id>")
    def task_page(task_id: str) -> Any:
        head = run(store.feed_head())
        task = run(store.get_task(task_id, view="FULL", owner=owner()))
        if task is None:
            return _error(404, f"There is no task {task_id} that you can see.")
        feed = DASHBOARD_PATH + "events?" + urlencode({"since": head.seq, "id": task_id})
        return flask.render_template("task.html", task=task, feed=feed,
                                     cancellable=task["state"] not in TERMINAL and task["state"] != "CANCELING")

    @app.post(DASHBOARD_PATH + "tasks/<task_id>/cancel")
    def cancel(task_id: str) -> Any:
        if run(context.cancel_task(task_id, owner=owner())) is None:
            return _error(404, f"There is no task {task_id} that you can see.")
        return flask.redirect(flask.url_for("task_page", task_id=task_id), code=303)

    @app.get("/dashboard")
    def bare() -> Any:
        return flask.redirect(DASHBOARD_PATH, code=308)

    @app.errorhandler(Unavailable)
    @app.errorhandler(TimeoutError)
    def unavailable(_exc: Exception) -> Any:
        return _error(503, "The task database does not answer just now; try again shortly.")

    @app.after_request
    def headers(response: flask.Response) -> flask.Response:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app


def _list_query(args: MultiDict[str, str], owner: str | None) -> tuple[TaskFilter, int | None]:
    """The list's filters from its query: state, name_prefix, tag (``key`` or ``key=value``, repeatable), page."""
    state = args.get("state") or None
    if state is not None and state not in STATES:
        raise BadQuery(f"state must be one of {', '.join(STATES)}")
    tags: dict[str, str] = {}
    for tag in args.getlist("tag"):
        for item in tag.split(","):
            key, _, value = item.strip().partition("=")
            if key:
                tags[key.strip()] = value.strip()
    below = None
    if args.get("page"):
        try:
            below = tokens.decode(args["page"])
        except tokens.BadToken as exc:
            raise BadQuery(str(exc)) from None
    return TaskFilter(name_prefix=args.get("name_prefix") or None, state=state, tags=tags, owner=owner), below


def _tag_text(filters: TaskFilter) -> str:
    return ", ".join(f"{k}={v}" if v else k for k, v in (filters.tags or {}).items())


def _with(args: MultiDict[str, str], **changes: str | None) -> str:
    """This list's URL with ``changes`` (None: without that parameter)."""
    merged = MultiDict(args)
    for key, value in changes.items():
        merged.setlist(key, [] if value is None else [value])
    query = urlencode(list(merged.items(multi=True)))
    return DASHBOARD_PATH + ("?" + query if query else "")


def _when(value: str | None) -> str:
    """An RFC 3339 time as the page shows it: to the second, in UTC."""
    if not value:
        return "—"
    return value[:19].replace("T", " ") + " UTC"


def _error(status: int, message: str) -> Any:
    return flask.render_template("error.html", status=status, message=message), status
