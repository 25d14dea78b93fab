"""``GET /ga4gh/tes/v1/events`` (and ``/dashboard/events``): a subscriber's stream of task events.

An ASGI middleware inside the guard, so the caller is authenticated as for ListTasks and
sees the events of the tasks ListTasks would show it. A request with ``since`` (or an
EventSource's ``Last-Event-ID``) first reads the events after that one from the database in
pages, joins the hub, reads what came between, then streams what the hub offers; without,
it streams from now. Errors before the stream starts are problem+json; a stream ends when
the client goes, when it falls ``queue`` events behind (a ``dropped`` event) or when the
database goes away, and the client resumes with the last id it saw.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from starlette.responses import Response, StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from poiesis.api.errors import problem_response
from poiesis.api.feed import events
from poiesis.api.feed.hub import Full, Hub, Subscriber
from poiesis.api.hardening import principal
from poiesis.store import AsyncStore, Position, TaskFilter, Unavailable

log = logging.getLogger(__name__)

#: Events a catch-up reads per query.
PAGE = 500


class Feed:
    """ASGI middleware serving the feed on ``paths``; everything else goes on to ``app``."""

    def __init__(self, app: ASGIApp, *, paths: tuple[str, ...], store: AsyncStore, hub: Hub,
                 heartbeat: float = 15.0) -> None:
        self.app, self.paths, self.store, self.hub, self.heartbeat = app, paths, store, hub, heartbeat

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD"):
            response = problem_response(405, f"{scope['path']} answers GET only")
            response.headers["allow"] = "GET"
        else:
            response = await self._respond(scope)
        await response(scope, receive, send)

    async def _respond(self, scope: Scope) -> Response:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        try:
            request = events.parse(scope.get("query_string", b""), headers.get("last-event-id"))
        except events.BadRequest as exc:
            return problem_response(400, str(exc))
        owner = principal.visible_owner(principal.of(scope))
        filters = TaskFilter(name_prefix=request.filters.name_prefix, state=request.filters.state,
                             tags=request.filters.tags, owner=owner)
        start = None
        if request.since is not None:
            start = await self.store.event_position(request.since)
            if start is None:
                return problem_response(
                    400, f"since={request.since} names no event of this feed (resume from an id it sent)")
        if scope["method"] == "HEAD":
            return StreamingResponse(iter(()), media_type="text/event-stream")
        subscriber = None
        if start is None:  # from now: joined before the answer starts, so "now" is when the client sees the 200
            try:
                subscriber = await self.hub.subscribe(filters, request.task_id)
            except Full as exc:
                response = problem_response(503, str(exc))
                response.headers["retry-after"] = "5"
                return response
        stream = self._stream(filters, request.task_id, start, subscriber)
        return StreamingResponse(stream, media_type="text/event-stream",
                                 headers={"cache-control": "no-store", "x-accel-buffering": "no"})

    async def _stream(self, filters: TaskFilter, task_id: str | None, start: Position | None,
                      subscriber: Subscriber | None) -> AsyncIterator[bytes]:
        try:
            yield events.OPENING
            if subscriber is None and start is not None:  # the stored events first, page by page, to about now
                async for chunk in self._catch_up(start, filters, task_id, upto=None):
                    if isinstance(chunk, bytes):
                        yield chunk
                    else:
                        start = chunk
                try:
                    subscriber = await self.hub.subscribe(filters, task_id)
                except Full:
                    yield events.DROPPED
                    return
            assert subscriber is not None
            async for frame in self._live(subscriber, start):
                yield frame
        except Unavailable as exc:
            log.info("change feed: a stream ends, the database is unavailable (%s)", exc)
        finally:
            if subscriber is not None:
                self.hub.leave(subscriber)

    async def _catch_up(self, after: Position, filters: TaskFilter, task_id: str | None, *,
                        upto: Position | None) -> AsyncIterator[bytes | Position]:
        """The frames of the stored events after ``after`` (up to ``upto``), then the position after them."""
        while True:
            page = await self.store.events_after(after, filters=filters, limit=PAGE, upto=upto, task_id=task_id)
            for event in page:
                yield events.frame(event)
            if page:
                after = page[-1].position
            if len(page) < PAGE:
                yield after
                return

    async def _live(self, subscriber: Subscriber, start: Position | None) -> AsyncIterator[bytes]:
        """What came between the catch-up and joining the hub, then what the hub offers."""
        after = subscriber.joined_at
        if start is not None and start < after:
            async for chunk in self._catch_up(start, subscriber.filters, subscriber.task_id, upto=after):
                if isinstance(chunk, bytes):
                    yield chunk
        elif start is not None:
            after = start  # a client that saw more (another replica's hub ahead of ours) gets nothing twice
        while True:
            if subscriber.dropped and subscriber.queue.empty():
                yield events.DROPPED
                return
            if subscriber.closing and subscriber.queue.empty():
                return
            try:
                position, item = await asyncio.wait_for(subscriber.queue.get(), self.heartbeat)
            except TimeoutError:
                yield events.HEARTBEAT
                continue
            if position > after:
                after = position
                yield item
