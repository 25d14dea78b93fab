"""A small TES v1.1 HTTP client: the five operations, bearer token, problem documents as errors.

Also Poiesis' change feed (``events``, docs/api.md), a Server-Sent Events stream it resumes
after a dropped connection from the last event it saw.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import requests

BASE_PATH = "/ga4gh/tes/v1"
#: Seconds before the change feed is opened again after its connection went away.
RETRY_SECONDS = 2.0


class ClientError(Exception):
    """The server refused the request (``status`` 4xx/5xx) or could not be reached (``status`` None)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def tes_url(server: str) -> str:
    """The TES base URL of ``server``: ``http://host:port`` gets ``/ga4gh/tes/v1`` appended."""
    server = server.rstrip("/")
    if "://" not in server:
        server = "http://" + server
    return server if server.endswith(BASE_PATH) else server + BASE_PATH


@dataclass(frozen=True)
class Frame:
    """One Server-Sent Event: its id, its event name and its data (JSON, decoded)."""

    id: int | None
    event: str
    data: Any


def sse_frames(lines: Iterable[str | bytes]) -> Iterator[Frame]:
    """The events in the lines of an SSE stream (comments and ``retry:`` skipped)."""
    fields: dict[str, str] = {}
    for raw in lines:
        line = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        if line == "":
            if "data" in fields:
                event_id = fields.get("id", "")
                yield Frame(int(event_id) if event_id.isdigit() else None, fields.get("event", "message"),
                            json.loads(fields["data"]))
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


class TesClient:
    """One server; every method returns the decoded JSON answer or raises ClientError."""

    def __init__(self, server: str, *, token: str | None = None, timeout: float = 30.0) -> None:
        self.base = tes_url(server)
        self.timeout = timeout
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.session.request(method, self.base + path, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise ClientError(f"cannot reach {self.base}: {exc}") from exc
        if response.status_code >= 400:
            self._refused(method, path, response)
        try:
            return response.json()
        except ValueError as exc:
            raise ClientError(f"{method} {path}: the answer is not JSON", response.status_code) from exc

    @staticmethod
    def _refused(method: str, path: str, response: requests.Response) -> None:
        try:
            detail = response.json().get("detail") or response.json().get("title")
        except ValueError:
            detail = response.text[:500]
        raise ClientError(f"{method} {path}: {response.status_code} {detail}", response.status_code)

    def service_info(self) -> dict[str, Any]:
        return self._call("GET", "/service-info")

    def create(self, task: Mapping[str, Any]) -> str:
        return self._call("POST", "/tasks", json=task)["id"]

    def get(self, task_id: str, *, view: str = "MINIMAL") -> dict[str, Any]:
        return self._call("GET", f"/tasks/{task_id}", params={"view": view})

    def cancel(self, task_id: str) -> None:
        self._call("POST", f"/tasks/{task_id}:cancel")

    def list_page(self, *, page_token: str | None = None, **filters: Any) -> dict[str, Any]:
        params = {key: value for key, value in filters.items() if value not in (None, [], "")}
        if page_token:
            params["page_token"] = page_token
        return self._call("GET", "/tasks", params=params)

    def list(self, *, all_pages: bool = False, **filters: Any) -> Iterator[dict[str, Any]]:
        """Tasks newest first: one page, or every page when ``all_pages``."""
        token = None
        while True:
            page = self.list_page(page_token=token, **filters)
            yield from page.get("tasks", [])
            token = page.get("next_page_token")
            if not all_pages or not token:
                return

    def events(self, *, since: int | None = None, **filters: Any) -> Iterator[Frame]:
        """Poiesis' change feed (GET /events), for ever: reconnects after a drop and resumes after the last event."""
        params = {key: value for key, value in filters.items() if value not in (None, [], "")}
        last = since
        while True:
            if last is not None:
                params["since"] = last
            try:
                with self.session.get(self.base + "/events", params=params, stream=True,
                                      timeout=(self.timeout, max(self.timeout, 60.0))) as response:
                    if response.status_code == 404:
                        raise ClientError(f"{self.base} has no change feed (GET /events is a Poiesis extension)", 404)
                    if response.status_code >= 400:
                        self._refused("GET", "/events", response)
                    for frame in sse_frames(response.iter_lines(decode_unicode=True)):
                        if frame.id is not None:
                            last = frame.id
                        yield frame
            except requests.RequestException:
                pass  # the connection went away: resume after the last event
            time.sleep(RETRY_SECONDS)
