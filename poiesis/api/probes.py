"""Operating the API: liveness, readiness and metrics endpoints, and per-operation request metrics.

``Measure`` is the outermost middleware: it times every request, refusals of
the guard included, and counts it by TES operation (the operationId whose
path and method match, else "other") and status code. ``Probes`` sits
inside the guard, so the Host header is checked as for any request, and
answers three paths outside the TES base path without credentials:

- ``/healthz``: 200 while the process serves requests (liveness);
- ``/readyz``: 200 when the task database answers a query on the tasks
  table, else 503 (readiness: not migrated or unreachable is not ready).
  The answer is public, so it names the kind of failure only; the
  database's own message (host, user, database) goes to the server log;
- ``/metrics``: the Prometheus text exposition (``poiesis.metrics``).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from poiesis import metrics

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
App = Callable[..., Awaitable[None]]

HEALTH, READY, METRICS = "/healthz", "/readyz", "/metrics"
PROBES = (HEALTH, READY, METRICS)
_METHODS = ("get", "put", "post", "delete", "patch")


def operation_routes(spec: dict[str, Any], base_path: str) -> list[tuple[str, re.Pattern[str], str]]:
    """(method, path regex, operationId) for each operation, most specific path first."""
    routes = []
    for template, item in spec.get("paths", {}).items():
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(base_path + template))
        for method in _METHODS:
            if method in item and "operationId" in item[method]:
                routes.append((method.upper(), re.compile(f"^{pattern}$"), item[method]["operationId"]))
    return sorted(routes, key=lambda r: -len(r[1].pattern))


class Measure:
    """See the module docstring."""

    def __init__(self, app: App, *, spec: dict[str, Any], base_path: str) -> None:
        self.app = app
        self.routes = operation_routes(spec, base_path)

    def operation(self, method: str, path: str) -> str:
        if path in PROBES:
            return path.strip("/")
        return next((op for m, pattern, op in self.routes if m == method and pattern.match(path)), "other")

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status, counted = 500, False

        def count() -> None:
            nonlocal counted
            counted = True
            labels = (self.operation(scope["method"], scope["path"]), str(status))
            metrics.API_REQUESTS.labels(*labels).inc()
            metrics.API_LATENCY.labels(*labels).observe(time.perf_counter() - started)

        async def watch(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body") and not counted:
                count()  # before the last byte leaves: a client that saw the answer finds it counted
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            if not counted:
                count()


class Probes:
    """See the module docstring. ``ready`` is an async check that raises when not ready."""

    def __init__(self, app: App, *, ready: Callable[[], Awaitable[None]], metrics_dir: str | None = None) -> None:
        self.app = app
        self.ready = ready
        self.metrics_dir = metrics_dir

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] not in PROBES:
            await self.app(scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD"):
            await _send(send, 405, b'{"status": 405, "title": "method not allowed"}', "application/problem+json",
                        [(b"allow", b"GET, HEAD")])
            return
        if scope["path"] == METRICS:
            body, content_type = metrics.exposition(self.metrics_dir)
            await _send(send, 200, body, content_type)
        elif scope["path"] == HEALTH:
            await _send(send, 200, b'{"status": "ok"}', "application/json")
        else:
            try:
                await self.ready()
            except Exception as exc:  # noqa: BLE001 - any failure is "not ready", said in the body
                log.warning("not ready: %s: %s", type(exc).__name__, exc)
                answer = json.dumps({"status": "unavailable",
                                     "detail": f"the task database does not answer ({type(exc).__name__})"})
                await _send(send, 503, answer.encode(), "application/json")
                return
            await _send(send, 200, b'{"status": "ready"}', "application/json")


async def _send(send: Any, status: int, body: bytes, content_type: str,
                headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    await send({
        "type": "http.response.start", "status": status,
        "headers": [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-store"), *headers],
    })
    await send({"type": "http.response.body", "body": body})
