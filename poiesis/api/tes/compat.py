"""TES 1.0's service-info route, for clients that still call it: ``GET …/tasks/service-info``.

TES 1.0 placed service-info under ``/tasks`` and answered ``name``, ``doc``
and ``storage``; py-tes 0.4.2 (what pip resolves for Toil's TES plugin) calls
it and fails on a 404. Served beside Connexion, not in openapi/: the
document stays TES 1.1 (tests/test_spec.py), and in it ``/tasks/service-info``
would be the GetTask route for a task id "service-info". This middleware
answers that one path before Connexion routes it; nothing else of TES 1.0 is
served.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

#: The TES 1.0 route, relative to the API's base path.
PATH = "/tasks/service-info"


def service_info_v1_0(info: dict[str, Any]) -> dict[str, Any]:
    """The TES 1.0 body from the v1.1 service-info: name, doc, storage."""
    return {"name": info["name"], "doc": info.get("description", ""), "storage": list(info.get("storage", []))}


class ServiceInfoV10:
    """ASGI middleware answering ``GET <base>/tasks/service-info`` with the TES 1.0 body."""

    def __init__(self, app: ASGIApp, *, path: str, info: Callable[[], dict[str, Any]]) -> None:
        self.app = app
        self.path = path
        self.info = info

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].rstrip("/") != self.path or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        body = json.dumps(service_info_v1_0(self.info()), separators=(",", ":")).encode()
        await send({
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        })
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
