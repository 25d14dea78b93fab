"""The ASGI middleware in front of Connexion: everything checked before a handler runs.

In order: the Host header, the path and query text (``hostile``), the
Origin of state-changing requests, the caller's credentials (``auth``), the
body's size, charset and JSON (``hostile``), read within ``body_timeout``.
A public path (no credentials) takes no body: it is refused unread. A refusal is a problem+json
response naming the check or the limit; an accepted request goes on with
its ``Principal`` in the ASGI scope (read by ``principal.current``) and, when
the body was read, that body replayed. It also gives a 405 its Allow header.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from poiesis.api import probes
from poiesis.api.errors import PROBLEM_JSON, problem_body
from poiesis.api.hardening import hostile, hosts
from poiesis.api.hardening.auth import Authenticator, AuthError
from poiesis.api.hardening.nulls import PARSED_KEY
from poiesis.api.hardening.principal import SCOPE_KEY
from poiesis.config.security import SecuritySettings

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

#: Paths (below the base path) anyone may read without credentials (also ``probes.PROBES``, at the
#: root); /tasks/service-info is TES 1.0's service-info (poiesis.api.tes.compat), public like its v1.1 counterpart.
PUBLIC = ("/service-info", "/tasks/service-info", "/ui", "/openapi.json", "/swagger.json")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class _Refuse(Exception):
    def __init__(self, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers or []


async def send_problem(send: Send, status: int, detail: str, headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps(problem_body(status, detail)).encode()
    await send({
        "type": "http.response.start", "status": status,
        "headers": [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode()),
                    *headers],
    })
    await send({"type": "http.response.body", "body": body})


def route_methods(spec: dict[str, Any], base_path: str) -> list[tuple[re.Pattern[str], str]]:
    """(path regex, Allow value) for each path of the OpenAPI document."""
    routes = []
    for template, item in spec.get("paths", {}).items():
        pattern = re.escape(base_path + template)
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", pattern)
        methods = sorted(m.upper() for m in item if m in ("get", "put", "post", "delete", "patch", "head", "options"))
        routes.append((re.compile(f"^{pattern}$"), ", ".join(methods)))
    # the most specific first: /tasks/{id}:cancel before /tasks/{id}
    return sorted(routes, key=lambda r: -len(r[0].pattern))


class Guard:
    """See the module docstring."""

    def __init__(self, app: Callable[..., Awaitable[None]], *, settings: SecuritySettings,
                 authenticator: Authenticator, base_path: str, spec: dict[str, Any]) -> None:
        self.app = app
        self.settings = settings
        self.authenticator = authenticator
        self.base_path = base_path
        self.routes = route_methods(spec, base_path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            receive = await self._check(scope, receive)
        except _Refuse as refuse:
            await send_problem(send, refuse.status, refuse.detail, refuse.headers)
            return
        await self.app(scope, receive, self._with_allow(scope, send))

    async def _check(self, scope: Scope, receive: Receive) -> Receive:
        headers = _headers(scope)
        limits = self.settings.limits
        host = headers.get("host")
        if not hosts.host_allowed(host, self.settings.allowed_hosts):
            raise _Refuse(400, f"Host {host!r} is not a name this server answers to (POIESIS_ALLOWED_HOSTS)")
        try:
            path = hostile.check_text("path", scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape"))
            hostile.check_text("query", scope.get("query_string", b""))
        except hostile.Refused as exc:
            raise _Refuse(400, str(exc)) from None
        method = scope["method"]
        if not hosts.origin_allowed(method, headers.get("origin"), headers.get("sec-fetch-site"), host,
                                    self.settings.allowed_origins):
            raise _Refuse(403, f"a {method} from origin {headers.get('origin')!r} is refused"
                               " (cross-site; POIESIS_ALLOWED_ORIGINS lists allowed origins)")
        sub = path[len(self.base_path):] if path.startswith(self.base_path) else path
        public = path in probes.PROBES or any(sub == p or sub.startswith(p + "/") for p in PUBLIC)
        if not public:
            try:
                principal = self.authenticator.authenticate(headers.get("authorization"))
            except AuthError as exc:
                raise _Refuse(401, exc.detail, [(b"www-authenticate", exc.challenge.encode())]) from None
            scope.setdefault("state", {})[SCOPE_KEY] = principal
        if method not in _BODY_METHODS:
            return receive
        if public:  # nothing public takes a body: an unauthenticated client never makes the guard read one
            if _has_body(headers):
                raise _Refuse(400, f"{path} takes no request body")
            return receive
        try:
            async with asyncio.timeout(limits.body_timeout):
                return await self._body(scope, headers, receive, limits.body_bytes, limits.json_depth)
        except TimeoutError:
            raise _Refuse(408, f"the body did not arrive within {limits.body_timeout:g} s (limit body_timeout)",
                          [(b"connection", b"close")]) from None

    async def _body(self, scope: Scope, headers: dict[str, str], receive: Receive, limit: int, depth: int) -> Receive:
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            raise _Refuse(413, f"the body is larger than {limit} bytes (limit body_bytes)")
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Refuse(400, "the client went away")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _Refuse(413, f"the body is larger than {limit} bytes (limit body_bytes)")
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        content_type = headers.get("content-type", "")
        try:
            hostile.check_charset(content_type)
            if body and "json" in content_type.split(";")[0].lower():
                # kept for the body validator, which would otherwise parse the same bytes again
                scope.setdefault("state", {})[PARSED_KEY] = hostile.parse_json(body, max_depth=depth)
        except hostile.Refused as exc:
            raise _Refuse(400, str(exc)) from None
        sent = False

        async def replay() -> MutableMapping[str, Any]:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        return replay

    def _with_allow(self, scope: Scope, send: Send) -> Send:
        async def wrapped(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                allow = next((m for pattern, m in self.routes if pattern.match(scope["path"])), None)
                if allow:
                    message = {**message, "headers": [*message.get("headers", []), (b"allow", allow.encode())]}
            await send(message)

        return wrapped


def _has_body(headers: dict[str, str]) -> bool:
    """Whether the request announces a body (a non-zero Content-Length, or any Transfer-Encoding)."""
    return headers.get("content-length", "0") not in ("", "0") or "transfer-encoding" in headers


def _headers(scope: Scope) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, value in scope.get("headers", []):
        name = key.decode("latin-1").lower()
        if name in found and name in ("host", "authorization", "origin", "content-length", "content-type"):
            found[name] = "\x00duplicate"  # never matches: two Host or Authorization headers are refused
        else:
            found[name] = value.decode("latin-1")
    return found
