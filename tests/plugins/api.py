"""The API under test: in-process through Connexion's ASGI app, or as a real ``poiesis api`` process.

Both serve TES ``tes_version`` (1.1 unless a test or a directory's conftest parametrizes it:
tests/api runs under 1.1 and 1.2; docs/api.md "TES 1.1 and 1.2").
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from starlette.testclient import TestClient

from poiesis import store
from poiesis.api.app import create_app
from poiesis.api.tes.context import Context
from poiesis.backend import NoBackend
from poiesis.filer import FilerConfig
from tests.plugins.servers import free_port

BASE = "/ga4gh/tes/v1"


def api_store(url: str, *, timeout: float = 5.0) -> store.AsyncStore:
    """The API's store on ``url`` (its pool is opened by the app's lifespan)."""
    return store.AsyncStore(store.open_async_pool(url, max_size=4, timeout=timeout))


@contextlib.contextmanager
def serving(context: Context, **app_options: object) -> Iterator[TestClient]:
    """An in-process HTTP client of the app over ``context``, its lifespan running (the store open)."""
    with TestClient(create_app(context, **app_options), base_url=f"http://127.0.0.1{BASE}") as client:  # type: ignore[arg-type]
        yield client


@pytest.fixture
def tes_version() -> str:
    """The TES version the servers of a test serve (POIESIS_TES_VERSION); parametrized where both must pass."""
    return "1.1"


@pytest.fixture
def serve_app(db_url: str, tes_version: str) -> Iterator[Callable[..., TestClient]]:
    """``serve_app(**context_fields)``: the app in-process over the test's database; stopped after the test."""
    with contextlib.ExitStack() as stack:

        def serve(**fields: object) -> TestClient:
            fields.setdefault("tes_version", tes_version)
            return stack.enter_context(serving(Context(store=api_store(db_url), **fields)))  # type: ignore[arg-type]

        yield serve


@pytest.fixture
def client(serve_app: Callable[..., TestClient]) -> TestClient:
    """An HTTP client for the app, in-process, with no backend (and no file roots)."""
    return serve_app(backend=NoBackend(FilerConfig()))


def wait_http(url: str, *, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise TimeoutError(url)


@pytest.fixture
def api_server(db_url: str, tmp_path: Path, tes_version: str) -> Iterator[str]:
    """A real ``poiesis api`` process on 127.0.0.1 serving ``tes_version``; yields its TES base URL."""
    port = free_port()
    env = {**os.environ, "POIESIS_DATABASE_URL": db_url, "POIESIS_PORT": str(port), "POIESIS_TES_VERSION": tes_version}
    log = (tmp_path / "api.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "poiesis.cli", "api"], env=env, stdout=log, stderr=log)
    try:
        wait_http(f"http://127.0.0.1:{port}{BASE}/service-info", proc=proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without POIESIS_* settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POIESIS_")}
    return {**env, **extra}


@pytest.fixture
def start_api(tmp_path: Path) -> Iterator[Callable[..., tuple[str, subprocess.Popen]]]:
    """Start ``poiesis api ARGS`` with an environment; yields (base URL, process); stops them after."""
    started: list[tuple[subprocess.Popen, object]] = []

    def start(*args: str, env: dict[str, str], wait: bool = True) -> tuple[str, subprocess.Popen]:
        port = free_port()
        log = (tmp_path / f"api-{port}.log").open("w")
        proc = subprocess.Popen([sys.executable, "-m", "poiesis.cli", "api", "--port", str(port), *args],
                                env=env, stdout=log, stderr=subprocess.STDOUT)
        started.append((proc, log))
        url = f"http://127.0.0.1:{port}"
        if wait:
            wait_http(f"{url}{BASE}/service-info", proc=proc)
        return url, proc

    yield start
    for proc, log in started:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=20)
        log.close()
