"""Connexion's AsyncApp with each operation's handler decorated once, not on every request.

Connexion 3.3's ``AsyncOperation`` builds its decorator chain on every call:
a new ``StarletteDecorator``, then, inside the call, the parameter and
response decorators (each inspecting the handler's signature again) and a
new URI parser for the operation. All of it depends only on the operation,
so ``CachedAsyncApi`` builds it on an operation's first request and keeps it;
what a request gets (arguments, validation, responses) is Connexion's own
code, unchanged. In a profile of GetTask this was about a tenth of the
request's CPU. Tied to Connexion 3.3's internals (setup.cfg pins it);
tests/api/test_api.py and the conformance suite run through it.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from connexion.apps.asynchronous import AsyncApi, AsyncApp, AsyncOperation
from connexion.context import receive, scope
from connexion.decorators import StarletteDecorator
from connexion.operations import AbstractOperation


class _OnceDecorator(StarletteDecorator):
    """``StarletteDecorator`` whose decoration and URI parser are made on the first call and kept."""

    def __call__(self, function: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
        built: list[Any] = []

        @functools.wraps(function)
        async def wrapper(*_args: Any, **_kwargs: Any) -> Any:
            if not built:
                built[:] = [self.decorate(function), self.uri_parser]
            decorated, uri_parser = built
            request = self.framework.get_request(uri_parser=uri_parser, scope=scope, receive=receive)
            return await decorated(request)

        return wrapper


class _CachedOperation(AsyncOperation):
    @functools.cached_property
    def fn(self) -> Callable[..., Awaitable[Any]]:
        return _OnceDecorator(pythonic_params=self.pythonic_params, jsonifier=self.jsonifier)(self._fn)


class CachedAsyncApi(AsyncApi):
    """``AsyncApi`` whose operations keep their decorated handler."""

    def make_operation(self, operation: AbstractOperation) -> AsyncOperation:
        return _CachedOperation.from_operation(operation, pythonic_params=self.pythonic_params,
                                               jsonifier=self.jsonifier)


def install(app: AsyncApp) -> None:
    """Make ``app`` (before ``add_api``) build its APIs as ``CachedAsyncApi``."""
    app._middleware_app.api_cls = CachedAsyncApi  # noqa: SLF001 - connexion.apps.asynchronous.AsyncASGIApp
