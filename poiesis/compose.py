"""The composition root: which database, store, backend and app each command runs with.

The one module that knows every part. ``poiesis.cli`` parses the command line
and calls here; this module picks the database (the embedded server when none
is configured), opens the store, starts the backend ``POIESIS_BACKEND`` names
and hands them to the API, each part given its section of the one settings
tree (``poiesis.config``) that ``poiesis.cli`` loaded. So ``api`` never imports a backend package and
``api`` and ``local`` never import each other (the import-linter contracts in
setup.cfg keep it so). No request handling, no task logic lives here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
from collections.abc import Iterator

import connexion

from poiesis import backend as backends
from poiesis import store
from poiesis.api import server
from poiesis.api.app import create_app
from poiesis.api.context import Context
from poiesis.config import ServiceInfoSettings, Settings

ONE_MACHINE = "GA4GH Task Execution Service on one machine, state in PostgreSQL."


def make_backend(settings: Settings, *, task_store: store.Store | None = None) -> backends.Backend:
    """The backend named by POIESIS_BACKEND, started."""
    if settings.backend == "none":
        return backends.NoBackend(settings.filer)
    if settings.backend == "local" and task_store is not None:
        from poiesis.local import service

        return service.start_backend(settings, task_store)
    if settings.backend == "kubernetes":
        from poiesis.kube.backend import KubeBackend

        return KubeBackend(settings.kube, store=task_store, s3_buckets=settings.filer.s3_buckets)
    raise SystemExit(f"poiesis: unknown backend {settings.backend!r} (POIESIS_BACKEND)")


def app_from_settings(settings: Settings) -> connexion.FlaskApp:
    """The app for one worker process, configured by ``settings`` (database URL already resolved)."""
    if not settings.database.url:
        raise SystemExit("poiesis: API workers need a database URL")
    server.check_exposure(settings)
    pool = store.open_pool(settings.database.url, max_size=settings.database.pool_size,
                           timeout=settings.database.timeout)
    task_store = store.Store(pool)
    return create_app(_context(settings, task_store, make_backend(settings, task_store=task_store)))


def _context(settings: Settings, task_store: store.Store, backend: backends.Backend) -> Context:
    return Context(store=task_store, backend=backend, service=settings.service, security=settings.security,
                   metrics_dir=settings.metrics.multiproc_dir)


def serve_api(settings: Settings, *, workers: int = 1) -> None:
    """``poiesis api``: the API with the configured backend, each worker built by ``app_from_settings``."""
    server.serve(settings, app_from_settings, workers=workers)


def migrate(settings: Settings) -> str:
    """``poiesis migrate``: the database URL used, migrated."""
    return server.prepare_database(settings)


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


def _one_machine(settings: Settings) -> Settings:
    """``settings`` with the local backend and, unless configured, the one-machine description."""
    settings = dataclasses.replace(settings, backend="local")
    if settings.service.description == ServiceInfoSettings.description:
        settings = dataclasses.replace(
            settings, service=dataclasses.replace(settings.service, description=ONE_MACHINE)
        )
    return settings


def serve_local(settings: Settings) -> None:
    """``poiesis serve``: database, API and local backend in one process until interrupted.

    Shutting down (SIGINT, SIGTERM) stops running tasks (SYSTEM_ERROR) and
    leaves QUEUED ones for the next start.
    """
    import uvicorn

    from poiesis.local import service

    server.check_exposure(settings)
    settings = _one_machine(settings)
    url = server.prepare_database(settings)
    pool = store.open_pool(url, max_size=settings.database.pool_size, timeout=settings.database.timeout)
    task_store = store.Store(pool)
    backend = service.start_backend(settings, task_store)
    try:
        app = create_app(_context(settings, task_store, backend))
        print(
            f"poiesis: serving TES on http://{settings.api.host}:{settings.api.port}/ga4gh/tes/v1"
            f" (local backend, {backend.mode.name} mode, {backend.settings.max_tasks} task(s) at once)",
            flush=True,
        )
        with _signals_end_uvicorn_only():
            uvicorn.Server(server.uvicorn_config(settings, app)).run()
    finally:
        backend.close()
        pool.close()
