"""The caller of the request being handled, as the guard middleware authenticated it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from poiesis.api.hardening.auth import Principal

#: Key of the Principal in the ASGI scope's ``state``.
SCOPE_KEY = "poiesis.principal"


def of(scope: Mapping[str, Any]) -> Principal:
    """The caller of the request whose ASGI scope this is (the guard put it there).

    A request that reached a handler without passing the guard is an error,
    never an anonymous administrator.
    """
    principal = (scope.get("state") or {}).get(SCOPE_KEY)
    if not isinstance(principal, Principal):
        raise RuntimeError("no authenticated caller: the request did not pass the guard middleware")
    return principal


def current() -> Principal:
    """The caller of the request Connexion is handling now (its scope is in Connexion's context)."""
    from connexion.context import _scope  # the ContextVar behind connexion.context.scope

    return of(_scope.get())


def visible_owner(caller: Principal) -> str | None:
    """The owner whose tasks ``caller`` may see: None (every task) for an administrator.

    A non-administrator without an owner (cannot happen with authentication
    on) sees nothing rather than everything.
    """
    if caller.admin:
        return None
    return caller.owner if caller.owner is not None else "-"  # no owner is "-": owners are "basic:..." or "jwt:..."
