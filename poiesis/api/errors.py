"""Responses: the one JSON error shape every failure of the API uses, and JSON already encoded.

Every answer of the TES operations is a starlette ``Response`` of bytes:
PostgreSQL writes a task's JSON, the operations pass it through, and
Connexion serializes nothing (its Jsonifier is not on this path).
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from starlette.responses import Response

PROBLEM_JSON = "application/problem+json"
JSON = "application/json"


def problem_body(status: int, detail: str, **extensions: Any) -> dict[str, Any]:
    """An RFC 7807 body, shaped like Connexion's own validation errors; ``extensions`` are extra members."""
    return {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status, "detail": detail,
            **extensions}


def problem_bytes(status: int, detail: str, **extensions: Any) -> bytes:
    """A problem document, encoded."""
    return json.dumps(problem_body(status, detail, **extensions)).encode()


def problem_response(status: int, detail: str, **extensions: Any) -> Response:
    """A problem+json response."""
    return Response(problem_bytes(status, detail, **extensions), status_code=status, media_type=PROBLEM_JSON)


def json_response(body: bytes, status: int = 200) -> Response:
    """A JSON response of bytes already encoded."""
    return Response(body, status_code=status, media_type=JSON)


def raw_list(items: list[str], **extra: str) -> bytes:
    """``{"tasks": [...], **extra}`` from already serialized items."""
    tail = "".join(f",{json.dumps(key)}:{json.dumps(value)}" for key, value in extra.items())
    return ('{"tasks":[' + ",".join(items) + "]" + tail + "}").encode()
