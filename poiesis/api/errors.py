"""Problem documents: the one JSON error shape every failure of the API uses."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

PROBLEM_JSON = "application/problem+json"


def problem_body(status: int, detail: str) -> dict[str, Any]:
    """An RFC 7807 body, shaped like Connexion's own validation errors."""
    return {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status, "detail": detail}


def problem(status: int, detail: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    """A Flask response tuple carrying a problem document."""
    return problem_body(status, detail), status, {"Content-Type": PROBLEM_JSON}


def ok(body: Any) -> tuple[Any, int, dict[str, str]]:
    """A Flask response tuple for a successful JSON answer."""
    return body, 200, {"Content-Type": "application/json"}
