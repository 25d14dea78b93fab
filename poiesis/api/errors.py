"""Problem documents: the one JSON error shape every failure of the API uses."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import connexion.jsonifier

PROBLEM_JSON = "application/problem+json"


def problem_body(status: int, detail: str) -> dict[str, Any]:
    """An RFC 7807 body, shaped like Connexion's own validation errors."""
    return {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status, "detail": detail}


def problem(status: int, detail: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    """A Flask response tuple carrying a problem document."""
    return problem_body(status, detail), status, {"Content-Type": PROBLEM_JSON}


class RawJson(str):
    """A JSON document already serialized (by PostgreSQL); sent as it is."""


class Jsonifier(connexion.jsonifier.Jsonifier):
    """Compact JSON for responses; a RawJson body is passed through untouched."""

    def __init__(self) -> None:
        super().__init__(json, separators=(",", ":"))

    def dumps(self, data: Any, **kwargs: Any) -> str:
        if isinstance(data, RawJson):
            return data
        return super().dumps(data, **kwargs)


def raw_list(items: list[str], **extra: str) -> RawJson:
    """``{"tasks": [...], **extra}`` from already serialized items."""
    tail = "".join(f",{json.dumps(key)}:{json.dumps(value)}" for key, value in extra.items())
    return RawJson('{"tasks":[' + ",".join(items) + "]" + tail + "}")


def ok(body: Any) -> tuple[Any, int, dict[str, str]]:
    """A Flask response tuple for a successful JSON answer."""
    return body, 200, {"Content-Type": "application/json"}
