"""The bridge from Connexion's ASGI middleware to the Flask app: one thread hop per request.

Connexion's FlaskApp runs Flask behind a2wsgi, which blocks its worker
thread on the event loop for every piece of the exchange: each read of the
body and each response message (start, every chunk, the end) is a
``run_coroutine_threadsafe`` round trip. Under load on two cores those hops,
and the GIL hand-overs they force, were a quarter of a CreateTask's samples.

``OneHop`` reads the whole body on the event loop first (the guard has
already buffered and bounded it), runs the WSGI app on a thread with the
request's context variables, collects the whole response there, and sends
it from the event loop: the thread is entered once and left once. Every
response of this API is small and bounded (a ListTasks page by
``list_bytes``), so holding it in memory is what a2wsgi's queue did anyway.
Exceptions leave the app as they did (Flask propagates them; Connexion's
error handlers answer). Must not be used for streaming responses.
"""

from __future__ import annotations

import asyncio
import contextvars
import io
from collections.abc import Callable, Iterable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

from a2wsgi.wsgi import build_environ

Scope = MutableMapping[str, Any]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class OneHop:
    """An ASGI app serving ``app`` (WSGI) from a pool of ``workers`` threads."""

    def __init__(self, app: WSGIApp, *, workers: int = 10) -> None:
        self.app = app
        self.executor = ThreadPoolExecutor(thread_name_prefix="WSGI", max_workers=workers)

    async def __call__(self, scope: Scope, receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1000})
            return
        # a2wsgi types scope and body narrowly; an ASGI http scope and a BytesIO are what it reads
        environ: dict[str, Any] = dict(build_environ(cast(Any, scope), cast(Any, io.BytesIO(await _body(receive)))))
        environ["wsgi.input_terminated"] = True  # the whole body is there: read to its end
        run = contextvars.copy_context().run
        status, headers, body = await asyncio.get_running_loop().run_in_executor(
            self.executor, run, self._respond, environ
        )
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _respond(self, environ: dict[str, Any]) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Run the app on this thread; (status, headers, whole body)."""
        started: list[Any] = []
        chunks: list[bytes] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable:
            if exc_info is not None and started:
                raise exc_info[1].with_traceback(exc_info[2])
            started[:] = [int(status.split(" ", 1)[0]), headers]
            return chunks.append

        iterable = self.app(environ, start_response)
        try:
            chunks.extend(iterable)
        finally:
            getattr(iterable, "close", lambda: None)()
        status, headers = started
        encoded = [(name.strip().lower().encode("latin1"), value.strip().encode("latin1")) for name, value in headers]
        return status, encoded, b"".join(chunks)


async def _body(receive: Callable[..., Any]) -> bytes:
    chunks, more = [], True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


async def _lifespan(receive: Callable[..., Any], send: Callable[..., Any]) -> None:
    message = await receive()
    if message["type"] == "lifespan.startup":
        await send({"type": "lifespan.startup.complete"})
        message = await receive()
    if message["type"] == "lifespan.shutdown":
        await send({"type": "lifespan.shutdown.complete"})


def install(flask_app: Any) -> None:
    """Serve a Connexion FlaskApp's Flask app through ``OneHop`` instead of a2wsgi (connexion 3.3)."""
    middleware_app = flask_app._middleware_app  # noqa: SLF001 - connexion.apps.flask.FlaskASGIApp
    if not hasattr(middleware_app, "asgi_app"):
        raise RuntimeError("connexion's FlaskASGIApp has no asgi_app: the WSGI bridge cannot be installed")
    middleware_app.asgi_app = OneHop(middleware_app.app.wsgi_app)
