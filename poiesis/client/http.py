"""A small TES v1.1 HTTP client: the five operations, bearer token, problem documents as errors."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import requests

BASE_PATH = "/ga4gh/tes/v1"


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
            try:
                detail = response.json().get("detail") or response.json().get("title")
            except ValueError:
                detail = response.text[:500]
            raise ClientError(f"{method} {path}: {response.status_code} {detail}", response.status_code)
        try:
            return response.json()
        except ValueError as exc:
            raise ClientError(f"{method} {path}: the answer is not JSON", response.status_code) from exc

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
