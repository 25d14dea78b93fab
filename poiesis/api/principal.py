"""The caller of the request being handled, as the guard middleware authenticated it."""

from __future__ import annotations

from poiesis.api.auth import Principal

#: Key of the Principal in the ASGI scope's ``state``.
SCOPE_KEY = "poiesis.principal"


def current() -> Principal:
    """The caller of the current Flask request (the guard put it in the ASGI scope).

    A request that reached a handler without passing the guard is an error,
    never an anonymous administrator.
    """
    import flask

    state = flask.request.environ.get("asgi.scope", {}).get("state") or {}
    principal = state.get(SCOPE_KEY)
    if not isinstance(principal, Principal):
        raise RuntimeError("no authenticated caller: the request did not pass the guard middleware")
    return principal
