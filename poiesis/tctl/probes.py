"""TCtl's small HTTP server: /healthz, /readyz and /metrics on POIESIS_TCTL_HTTP_PORT.

- ``/healthz``: 200 while the lease loop has turned within three renew
  intervals (or has not started yet), else 503: a replica whose loop hangs
  is restarted by its liveness probe;
- ``/readyz``: 200 once the Pod informer has listed Pods (every replica,
  leader or not: a standby must be warm to take over);
- ``/metrics``: the Prometheus text exposition, ``poiesis_tctl_*`` included.

A threading server in a daemon thread; it never touches the controller's
state beyond reading two fields.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

from poiesis import metrics

if TYPE_CHECKING:
    from poiesis.tctl.controller import Controller

log = logging.getLogger(__name__)


def health(controller: Controller, *, now: float | None = None) -> tuple[int, dict[str, object]]:
    """(status, body) of /healthz."""
    now = time.monotonic() if now is None else now
    checked = controller.lease_checked
    limit = 3 * max(controller.cfg.lease_renew_s, 1.0) + 5.0
    if checked is not None and now - checked > limit:
        return 503, {"status": "stalled", "detail": f"lease loop silent for {now - checked:.0f}s"}
    return 200, {"status": "ok", "leading": controller.leading}


def readiness(controller: Controller) -> tuple[int, dict[str, object]]:
    """(status, body) of /readyz."""
    if controller.synced.is_set():
        return 200, {"status": "ready", "leading": controller.leading}
    return 503, {"status": "unavailable", "detail": "the Pod informer has not listed Pods yet"}


def serve(controller: Controller, *, host: str, port: int, metrics_dir: str | None = None) -> ThreadingHTTPServer:
    """Start the server in a daemon thread; returns it (``shutdown()`` stops it)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                body, content_type = metrics.exposition(metrics_dir)
                self._send(200, body, content_type)
            elif self.path in ("/healthz", "/readyz"):
                status, doc = (health if self.path == "/healthz" else readiness)(controller)
                self._send(status, json.dumps(doc).encode(), "application/json")
            else:
                self._send(404, b'{"status": 404, "title": "not found"}', "application/problem+json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's name
            log.debug("http: " + format, *args)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="tctl-http", daemon=True).start()
    log.info("tctl: health and metrics on http://%s:%d", host, server.server_address[1])
    return server
