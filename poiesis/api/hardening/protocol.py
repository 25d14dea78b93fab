"""The HTTP/1.1 protocol uvicorn runs for the API: a header deadline, a header size limit, JSON errors.

uvicorn cancels its idle timer on any byte received and has no deadline
for a request's headers, so a client sending headers slowly (or never
finishing them) holds a connection forever. Both protocols here close a
connection whose request line and headers are not complete within
``header_timeout`` seconds (again after each response), and answer a
request they cannot parse or whose request line and headers exceed
``header_bytes`` (a 1 MB URL, bad syntax) with a problem+json 400 instead
of uvicorn's text/plain.

``GuardedHttpTools`` (llhttp, in C) is what ``poiesis api`` runs: under
load h11's pure-Python parsing and event machinery was a visible share of
every request. ``GuardedH11`` is the same guard on h11, for when httptools
is not wanted (tests run both).
"""

from __future__ import annotations

import asyncio
import json
import logging

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol  # connexion[uvicorn] brings uvicorn[standard]

from poiesis.api.errors import PROBLEM_JSON, problem_body

#: Seconds a refused connection is drained before it is closed.
LINGER_SECONDS = 2.0
#: Attribute of uvicorn's Config holding the header deadline (the Config travels to every worker).
CONFIG_ATTRIBUTE = "poiesis_header_timeout"
#: Attribute of uvicorn's Config holding the request line + headers limit in bytes.
HEADER_BYTES_ATTRIBUTE = "poiesis_header_bytes"


class _Guard:
    """The deadline timer and the JSON 400 shared by both protocols (a mixin over uvicorn's)."""

    # set by uvicorn's protocol classes this mixes into
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    logger: logging.Logger
    _header_timer: asyncio.TimerHandle | None = None
    _discarding = False

    def _init_guard(self, config) -> None:  # noqa: ANN001 - uvicorn's Config
        self.header_timeout = float(getattr(config, CONFIG_ATTRIBUTE, 10.0))

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _cancel_header_timer(self) -> None:
        timer = self._header_timer
        if timer is not None:
            timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self._awaiting_headers() and not self.transport.is_closing():
            self.logger.info("closing a connection whose request headers took over %ss", self.header_timeout)
            self.transport.close()

    def _awaiting_headers(self) -> bool:
        raise NotImplementedError

    def _refuse(self, detail: str) -> None:
        """Answer 400 with a problem document, then drain and close (the client must see the answer)."""
        body = json.dumps(problem_body(400, detail)).encode()
        self.transport.write(
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: " + PROBLEM_JSON.encode()
            + b"\r\ncontent-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
        )
        # Closing now, with the rest of the request unread, would reset the connection and the
        # client would never see this answer: stop writing, discard what still arrives, close soon.
        self._discarding = True
        self._cancel_header_timer()
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)


class GuardedH11(_Guard, H11Protocol):
    """See the module docstring; the deadline is ``config.poiesis_header_timeout`` (default 10 s)."""

    def __init__(self, config, *args, **kwargs) -> None:  # noqa: ANN001, ANN002, ANN003 - uvicorn's
        super().__init__(config, *args, **kwargs)
        self._init_guard(config)

    def _awaiting_headers(self) -> bool:
        return self.conn.their_state is h11.IDLE

    def connection_made(self, transport) -> None:  # noqa: ANN001 - asyncio.Transport
        super().connection_made(transport)
        self._arm_header_timer()

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
        self._refuse(f"{msg} (request line and headers are limited to {self.conn._max_incomplete_event_size} bytes)")  # noqa: SLF001 - h11 keeps the limit private

    def data_received(self, data: bytes) -> None:
        if self._discarding:
            return
        super().data_received(data)


class _HeadersTooLarge(Exception):
    pass



class GuardedHttpTools(_Guard, HttpToolsProtocol):
    """See the module docstring; the limit is ``config.poiesis_header_bytes`` (default 16 KiB)."""

    def __init__(self, config, *args, **kwargs) -> None:  # noqa: ANN001, ANN002, ANN003 - uvicorn's
        super().__init__(config, *args, **kwargs)
        self._init_guard(config)
        self.header_bytes = int(getattr(config, HEADER_BYTES_ATTRIBUTE, 16 * 1024))
        self._seen = 0  # bytes of request line and headers so far; -1 once they are complete

    def _awaiting_headers(self) -> bool:
        return self._seen >= 0

    def connection_made(self, transport) -> None:  # noqa: ANN001 - asyncio.Transport
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._discarding:
            return
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._seen = 0

    def _count(self, size: int) -> None:
        self._seen += size
        if self._seen > self.header_bytes:
            raise _HeadersTooLarge

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._seen = -1
        self._cancel_header_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._seen = 0
            self._arm_header_timer()

    def send_400_response(self, msg: str) -> None:
        if self._seen > self.header_bytes:
            msg = f"the request line and headers are larger than {self.header_bytes} bytes (limit header_bytes)"
        self._refuse(msg)


def protocol() -> type:
    """The protocol class uvicorn should run (httptools; ``GuardedH11`` stays for tests and as a fallback)."""
    return GuardedHttpTools

