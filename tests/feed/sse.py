"""Reading the feed in its tests: open it, read frames with a deadline (``poiesis.client.http``'s parser)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import requests

from poiesis.client.http import Frame, sse_frames
from tests.plugins.api import BASE


def frames(response: requests.Response) -> Iterator[Frame]:
    """The frames of an open SSE response (the client's parser), read byte by byte so none waits in a buffer."""
    return sse_frames(response.iter_lines(chunk_size=1, decode_unicode=True))


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
