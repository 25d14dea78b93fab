"""The HTTP/1.1 protocol uvicorn runs for the API: h11 with a header deadline and JSON errors.

uvicorn cancels its idle timer on any byte received and has no deadline
for a request's headers, so a client sending headers slowly (or never
finishing them) holds a connection forever. ``GuardedH11`` closes a
connection whose request line and headers are not complete within
``header_timeout`` seconds (again after each response), and answers a
request h11 cannot parse (a 1 MB URL, bad syntax) with a problem+json 400
instead of uvicorn's text/plain.
"""

from __future__ import annotations

import asyncio
import json

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from poiesis.api.errors import PROBLEM_JSON, problem_body

#: Seconds a refused connection is drained before it is closed.
LINGER_SECONDS = 2.0
#: Attribute of uvicorn's Config holding the header deadline (the Config travels to every worker).
CONFIG_ATTRIBUTE = "poiesis_header_timeout"


class GuardedH11(H11Protocol):
    """See the module docstring; the deadline is ``config.poiesis_header_timeout`` (default 10 s)."""

    def __init__(self, config, *args, **kwargs) -> None:  # noqa: ANN001, ANN002, ANN003 - uvicorn's
        super().__init__(config, *args, **kwargs)
        self.header_timeout = float(getattr(config, CONFIG_ATTRIBUTE, 10.0))

    def connection_made(self, transport) -> None:  # noqa: ANN001 - asyncio.Transport
        super().connection_made(transport)
        self._header_timer: asyncio.TimerHandle | None = None
        self._arm_header_timer()

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _cancel_header_timer(self) -> None:
        timer = getattr(self, "_header_timer", None)
        if timer is not None:
            timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.logger.info("closing a connection whose request headers took over %ss", self.header_timeout)
            self.transport.close()

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:
            self._cancel_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        detail = f"{msg} (request line and headers are limited to {self.conn._max_incomplete_event_size} bytes)"  # noqa: SLF001 - h11 keeps the limit private
        body = json.dumps(problem_body(400, detail)).encode()
        headers = [(b"content-type", PROBLEM_JSON.encode()), (b"connection", b"close")]
        output = self.conn.send(h11.Response(status_code=400, headers=headers, reason=b"Bad Request"))
        self.transport.write(output)
        self.transport.write(self.conn.send(h11.Data(data=body)))
        self.transport.write(self.conn.send(h11.EndOfMessage()))
        # Closing now, with the rest of the request unread, would reset the connection and the
        # client would never see this answer: stop writing, discard what still arrives, close soon.
        self._discarding = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def data_received(self, data: bytes) -> None:
        if getattr(self, "_discarding", False):
            return
        super().data_received(data)
