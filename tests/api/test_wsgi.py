"""The one-hop WSGI bridge: what a2wsgi did for Connexion's Flask app, in one thread hop."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from poiesis.api.wsgi import OneHop

CALLER = contextvars.ContextVar("caller", default=None)


def _run(app, scope, body: bytes = b""):
    sent = []
    messages = [{"type": "http.request", "body": body[:3], "more_body": True},
                {"type": "http.request", "body": body[3:], "more_body": False}]

    async def receive():
        return messages.pop(0)

    async def send(message):
        sent.append(message)

    async def main():
        CALLER.set("alice")
        await app(scope, receive, send)

    asyncio.run(main())
    return sent


def _scope(method="POST", path="/x"):
    return {"type": "http", "method": method, "path": path, "query_string": b"a=1", "http_version": "1.1",
            "headers": [(b"content-type", b"application/json")], "server": ("127.0.0.1", 80)}


def test_body_context_and_response_cross_in_one_piece():
    """The app reads the whole body (sent in two messages), sees the caller's context vars, answers once."""

    def app(environ, start_response):
        body = environ["wsgi.input"].read()
        start_response("201 Created", [("Content-Type", "application/json"), ("X-Caller", CALLER.get())])
        return [b'{"got":', body, b"}"]

    sent = _run(OneHop(app), _scope(), b'"hello"')
    assert sent[0] == {"type": "http.response.start", "status": 201,
                       "headers": [(b"content-type", b"application/json"), (b"x-caller", b"alice")]}
    assert sent[1] == {"type": "http.response.body", "body": b'{"got":"hello"}'}
    assert len(sent) == 2


def test_an_exception_of_the_app_reaches_the_caller_and_nothing_is_sent():
    """Flask propagates errors (Connexion's handlers answer them): the bridge must not swallow them."""

    def app(environ, start_response):
        raise LookupError("boom")

    with pytest.raises(LookupError):
        _run(OneHop(app), _scope("GET"))


def test_the_iterable_is_closed():
    """A WSGI iterable's close() is called, as PEP 3333 requires."""
    closed = []

    class Body(list):
        def close(self):
            closed.append(True)

    def app(environ, start_response):
        start_response("200 OK", [])
        return Body([b"a", b"b"])

    assert _run(OneHop(app), _scope("GET"))[1]["body"] == b"ab"
    assert closed == [True]
