"""The local backend under test: process mode always, podman container mode where it runs.

``local_mode`` is parametrized over ``process`` and ``podman``. The podman
mode needs podman configured and the test image loaded by
``scripts/podman-setup``; without them its tests fail when CI=true and
skip locally with that message.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from poiesis import filer, store
from poiesis.local import LocalBackend, LocalSettings, engine
from poiesis.states import TERMINAL
from tests.plugins import unavailable

#: The image container-mode tests run (built and loaded by scripts/podman-setup).
IMAGE = os.environ.get("POIESIS_TEST_IMAGE", "localhost/poiesis/busybox:1.35")
BASE = "/ga4gh/tes/v1"


def podman_mode() -> engine.Mode:
    """Podman as the executor engine, or fail (CI) / skip (locally) saying how to get it."""
    cli = shutil.which("podman")
    ready = (
        cli is not None
        and engine.engine_answers(cli)
        and subprocess.run([cli, "image", "exists", IMAGE], check=False).returncode == 0
    )
    if not ready:
        unavailable(f"podman with image {IMAGE} is not ready here: run scripts/podman-setup (root, apt)")
    return engine.Mode("podman", cli=cli)


def process_mode() -> engine.Mode:
    """Process mode with the isolation this machine allows (root here: PID and mount namespaces)."""
    return engine.process_mode()


@pytest.fixture(params=["process", "podman"])
def local_mode(request: pytest.FixtureRequest) -> engine.Mode:
    """Each way the local backend runs executors."""
    return process_mode() if request.param == "process" else podman_mode()


@pytest.fixture
def make_backend(
    task_store: store.Store, tmp_path: Path
) -> Iterator[Callable[..., LocalBackend]]:
    """Build and start a local backend (work in tmp_path/work, file:// allowed under tmp_path)."""
    started: list[LocalBackend] = []

    def make(mode: engine.Mode, *, max_tasks: int = 4, **more: Any) -> LocalBackend:
        settings = LocalSettings(max_tasks=max_tasks, work_dir=tmp_path / "work", **more)
        backend = LocalBackend(
            task_store, settings=settings, mode=mode, filer_config=filer.FilerConfig(file_roots=(tmp_path,))
        )
        started.append(backend.start())
        return backend

    yield make
    for backend in started:
        backend.close(timeout=10)


@pytest.fixture
def local_backend(make_backend: Callable[..., LocalBackend], local_mode: engine.Mode) -> LocalBackend:
    """A started local backend in each mode, four tasks at once."""
    return make_backend(local_mode)


@pytest.fixture
def local_client(serve_app, local_backend: LocalBackend) -> TestClient:
    """An in-process API client whose tasks run on the local backend."""
    return serve_app(backend=local_backend)


def executor(*command: str, **extra: Any) -> dict[str, Any]:
    """A tesExecutor running ``command`` in the test image."""
    return {"image": IMAGE, "command": list(command), **extra}


def wait_for(get: Callable[[], dict[str, Any]], *, timeout: float = 30, until=None) -> dict[str, Any]:
    """Poll ``get`` until ``until(task)`` (default: a terminal state); the last task seen."""
    until = until or (lambda t: t["state"] in {s.value for s in TERMINAL})
    deadline = time.monotonic() + timeout
    while True:
        task = get()
        if until(task) or time.monotonic() > deadline:
            return task
        time.sleep(0.05)


def processes_with(token: str) -> list[int]:
    """Pids of live (non-zombie) processes whose command line contains ``token``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            status = (entry / "stat").read_text()
        except OSError:
            continue
        if token in cmdline and ") Z " not in status:
            found.append(int(entry.name))
    return found
