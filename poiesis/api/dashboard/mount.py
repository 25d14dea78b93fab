"""The ASGI side of the dashboard: requests under ``/dashboard`` go to the Flask app, in a2wsgi's threads.

Flask's views run in worker threads; what they ask of the store is awaited on the serving
event loop (``run``), where the API's async pool lives, so the dashboard opens no pool of its
own. Everything else goes on to the rest of the app.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from a2wsgi import WSGIMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from poiesis.api.dashboard import pages
from poiesis.api.tes.context import Context

T = TypeVar("T")
PREFIX = "/dashboard"
#: Seconds a page waits for the store before it answers 503.
STORE_WAIT = 30.0


class Dashboard:
    """ASGI middleware serving the dashboard's pages under ``PREFIX``."""

    def __init__(self, app: ASGIApp, *, context: Context, threads: int = 4) -> None:
        self.app = app
        self.loop: asyncio.AbstractEventLoop | None = None
        self.wsgi = WSGIMiddleware(pages.create(context, self.run), workers=threads)  # type: ignore[arg-type]

    def run(self, work: Awaitable[T]) -> T:
        """Await ``work`` on the serving loop from a page's thread."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(_awaited(work), self.loop).result(STORE_WAIT)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        self.loop = asyncio.get_running_loop()
        await self.wsgi(scope, receive, send)  # type: ignore[arg-type]


async def _awaited(work: Awaitable[T]) -> T:
    return await work
