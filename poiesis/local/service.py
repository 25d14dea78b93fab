"""``poiesis serve``: the whole service in one process on one machine.

The embedded PostgreSQL (unless a database URL is given), the API, and the
local backend running tasks, in one uvicorn process. Shutting down (SIGINT,
SIGTERM) stops running tasks (SYSTEM_ERROR) and leaves QUEUED ones for the
next start.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import signal
from collections.abc import Iterator
from pathlib import Path

from poiesis import filer, store
from poiesis.config import ServiceInfoSettings, Settings
from poiesis.local import engine
from poiesis.local.config import LocalSettings
from poiesis.local.scheduler import LocalBackend, check_exposure

log = logging.getLogger(__name__)

ONE_MACHINE = "GA4GH Task Execution Service on one machine, state in PostgreSQL."


def default_file_roots(cwd: Path | None = None) -> tuple[Path, ...]:
    """file:// roots when POIESIS_FILER_FILE_ROOTS is unset: the working directory (not /).

    A workflow engine started beside the server, in the same directory, can then
    hand it file:// inputs and outputs out of the box (as Funnel allows its own
    working directory).
    """
    cwd = (cwd or Path.cwd()).resolve()
    return () if cwd == Path("/") else (cwd,)


def file_roots_line(roots: tuple[Path, ...]) -> str:
    """The start-up line saying where file:// URLs may point and how to change it."""
    where = ":".join(str(root) for root in roots) if roots else "nowhere (file:// URLs are refused)"
    return f"poiesis: file:// inputs and outputs allowed under {where}; set {filer.roots.ENV} (':'-separated) to change"


def start_backend(settings: Settings, task_store: store.Store) -> LocalBackend:
    """A started local backend for the API listening on ``settings.host``; refuses unsafe exposure."""
    local = LocalSettings.from_env()
    mode = engine.detect(engine=local.engine, pull=local.pull, network=local.network)
    check_exposure(mode, host=settings.host, allowed=local.allow_unisolated, remote=local.allow_remote)
    config = filer.FilerConfig.from_env(default_file_roots=default_file_roots())
    backend = LocalBackend(task_store, settings=local, mode=mode, filer_config=config)
    print(file_roots_line(config.file_roots), flush=True)
    return backend.start()


@contextlib.contextmanager
def _signals_end_uvicorn_only() -> Iterator[None]:
    """Let SIGINT/SIGTERM stop uvicorn and then return here, so the backend shuts down cleanly.

    uvicorn re-raises the signal that stopped it with the handlers it found
    installed; these handlers only note it, instead of killing the process
    before the running tasks are ended.
    """
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def serve(settings: Settings) -> None:
    """Run database, API and local backend until interrupted."""
    import uvicorn

    from poiesis.api import server
    from poiesis.api.app import create_app
    from poiesis.api.context import Context

    server.check_exposure(settings)
    settings = dataclasses.replace(settings, backend="local")
    if settings.service.description == ServiceInfoSettings.description:
        settings = dataclasses.replace(
            settings, service=dataclasses.replace(settings.service, description=ONE_MACHINE)
        )
    url = server.prepare_database(settings)
    pool = store.open_pool(url, max_size=settings.db_pool_size, timeout=settings.db_timeout)
    task_store = store.Store(pool)
    backend = start_backend(settings, task_store)
    try:
        app = create_app(
            Context(store=task_store, backend=backend, service=settings.service, security=settings.security)
        )
        print(
            f"poiesis: serving TES on http://{settings.host}:{settings.port}/ga4gh/tes/v1"
            f" (local backend, {backend.mode.name} mode, {backend.settings.max_tasks} task(s) at once)",
            flush=True,
        )
        with _signals_end_uvicorn_only():
            uvicorn.Server(server.uvicorn_config(settings, app)).run()
    finally:
        backend.close()
        pool.close()
