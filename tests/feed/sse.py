"""A small Server-Sent Events reader for the feed's tests: frames as dicts, with a deadline."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import requests

from tests.plugins.api import BASE


@dataclass
class Frame:
    id: int | None
    event: str
    data: dict[str, Any]


def frames(response: requests.Response) -> Iterator[Frame]:
    """The frames of an open SSE response, comments and retry lines skipped."""
    fields: dict[str, str] = {}
    for raw in response.iter_lines(chunk_size=1, decode_unicode=True):
        if raw == "":
            if "data" in fields:
                yield Frame(int(fields["id"]) if "id" in fields else None, fields.get("event", "message"),
                            json.loads(fields["data"]))
            fields = {}
        elif not raw.startswith(":"):
            name, _, value = raw.partition(":")
            fields[name] = value.removeprefix(" ")


def open_feed(url: str, *, headers: dict[str, str] | None = None, **params: Any) -> requests.Response:
    """GET the feed of the server at ``url``, streaming."""
    response = requests.get(f"{url}{BASE}/events", params=params, headers=headers or {}, stream=True,
                            timeout=(5, 3))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return response


def read(response: requests.Response, count: int, *, timeout: float = 20) -> list[Frame]:
    """The next ``count`` frames (fewer if the stream ends, the deadline passes or nothing comes for 3 s)."""
    got: list[Frame] = []
    deadline = time.monotonic() + timeout
    try:
        for frame in frames(response):
            got.append(frame)
            if len(got) == count or time.monotonic() > deadline:
                break
    except requests.exceptions.ConnectionError:  # the read timeout: nothing more came
        pass
    return got
