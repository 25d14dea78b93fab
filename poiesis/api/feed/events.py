"""What a feed request asks for, which events it gets, and how each is framed: pure functions.

The filters are ListTasks' (state, name_prefix, tag_key/tag_value) plus ``id`` (one task's
events, for a task page), and the caller's ownership as ListTasks applies it. ``state``
matches the state an event reports. ``matches`` is the same rule in Python for live events
that ``plans.events_after`` applies in SQL to a catch-up.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs

from poiesis import states
from poiesis.store import Event, TaskFilter

#: The events one SSE frame can carry (``event:`` field); log updates would add ``log``.
KINDS = ("state",)
_STATES = frozenset(s.value for s in states.State)


class BadRequest(Exception):
    """A query the feed refuses (400, naming the parameter)."""


@dataclass(frozen=True)
class Request:
    """A parsed feed request: the filters (owner not yet applied), the task, where to resume."""

    filters: TaskFilter
    task_id: str | None
    since: int | None


def parse(query_string: bytes, last_event_id: str | None) -> Request:
    """The request's parameters; ``Last-Event-ID`` (an EventSource reconnecting) wins over ``since``."""
    try:
        query = parse_qs(query_string.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise BadRequest("the query string is not UTF-8") from None
    unknown = set(query) - {"state", "name_prefix", "tag_key", "tag_value", "id", "since"}
    if unknown:
        raise BadRequest(f"unknown parameter(s): {', '.join(sorted(unknown))}")
    state = _single(query, "state")
    if state is not None and state not in _STATES:
        raise BadRequest(f"state must be one of {', '.join(sorted(_STATES))}, got {state!r}")
    keys, values = query.get("tag_key", []), query.get("tag_value", [])
    if len(values) > len(keys):
        raise BadRequest("tag_value was given more often than tag_key")
    since = last_event_id if last_event_id not in (None, "") else _single(query, "since")
    return Request(
        filters=TaskFilter(
            name_prefix=_single(query, "name_prefix") or None,
            state=None if state in (None, states.State.UNKNOWN) else state,
            tags=dict(zip(keys, values + [""] * (len(keys) - len(values)), strict=False)),
        ),
        task_id=_single(query, "id") or None,
        since=None if since is None else _event_number(since),
    )


def _single(query: Mapping[str, Sequence[str]], name: str) -> str | None:
    given = query.get(name)
    if not given:
        return None
    if len(given) > 1:
        raise BadRequest(f"{name} was given more than once")
    return given[0]


def _event_number(text: str) -> int:
    if not text.isdigit() or len(text) > 19:
        raise BadRequest(f"since (or Last-Event-ID) must be an event number from this feed, got {text[:40]!r}")
    return int(text)


def matches(filters: TaskFilter, task_id: str | None, event: Event) -> bool:
    """Whether a subscriber with these filters (its owner included) wants ``event``."""
    if task_id is not None and event.task_id != task_id:
        return False
    if filters.owner is not None and event.owner != filters.owner:
        return False
    if filters.state is not None and event.state != filters.state:
        return False
    if filters.name_prefix and not (event.name or "").startswith(filters.name_prefix):
        return False
    return all(key in event.tags and value in ("", event.tags[key]) for key, value in (filters.tags or {}).items())


def frame(event: Event) -> bytes:
    """The SSE frame of one event: its number as the id, its kind as the event name, JSON data."""
    data: dict[str, object] = {"id": event.task_id, "state": event.state, "n": event.n, "time": event.time}
    if event.name is not None:
        data["name"] = event.name
    if event.tags:
        data["tags"] = event.tags
    body = json.dumps(data, separators=(",", ":"))
    return f"id: {event.position.seq}\nevent: {event.kind}\ndata: {body}\n\n".encode()


#: Sent first: how long a browser waits before it reconnects (ms), and a comment that flushes the headers.
OPENING = b"retry: 2000\n: poiesis task events\n\n"
#: Sent every ``heartbeat`` seconds without events, so proxies and clients see a live stream.
HEARTBEAT = b": keep-alive\n\n"
#: The last frame to a subscriber that fell too far behind; it reconnects with its last id and loses nothing.
DROPPED = b'event: dropped\ndata: {"detail":"this stream fell too far behind; reconnect with Last-Event-ID"}\n\n'
