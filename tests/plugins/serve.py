"""A real ``poiesis serve`` process on 127.0.0.1: the API plus the local backend, as users start it.

``start_serve(...)`` starts one in a given working directory with extra
environment (the engine, file roots...) on the test's own database, waits
for it to answer and returns a ``Served`` (base URL, TES URL, its output so
far); the fixture stops every one it started.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.plugins.api import BASE, wait_http
from tests.plugins.servers import free_port


@dataclass
class Served:
    """One running ``poiesis serve``."""

    url: str
    proc: subprocess.Popen
    log: Path
    cwd: Path

    @property
    def tes(self) -> str:
        return self.url + BASE

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def start_serve(db_url: str, tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Start ``poiesis serve`` (process mode unless ``engine`` says otherwise) on this test's database."""
    started: list[Served] = []

    def start(*, cwd: Path | None = None, engine: str = "process", env: dict[str, str] | None = None) -> Served:
        port = free_port()
        cwd = cwd or tmp_path / "serve"
        cwd.mkdir(parents=True, exist_ok=True)
        full_env = {
            **{k: v for k, v in os.environ.items() if k != "POIESIS_FILER_FILE_ROOTS"},
            "POIESIS_DATABASE_URL": db_url,
            "POIESIS_PORT": str(port),
            "POIESIS_LOCAL_ENGINE": engine,
            "POIESIS_LOCAL_WORK_DIR": str(tmp_path / f"work-{port}"),
            "POIESIS_LOCAL_MAX_TASKS": "2",
            **(env or {}),
        }
        log = tmp_path / f"serve-{port}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "poiesis.cli", "serve"], cwd=cwd, env=full_env, stdout=out, stderr=subprocess.STDOUT
            )
        served = Served(f"http://127.0.0.1:{port}", proc, log, cwd)
        started.append(served)
        try:
            wait_http(f"{served.tes}/service-info", proc=proc, timeout=60)
        except Exception as exc:
            raise RuntimeError(f"poiesis serve did not come up: {exc}\n{served.output()}") from exc
        return served

    yield start
    for served in started:
        served.proc.terminate()
        try:
            served.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            served.proc.kill()
            served.proc.wait()
