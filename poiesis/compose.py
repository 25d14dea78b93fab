"""The composition root: how each command starts, and with which database, store, backend and app.

The one module that knows every part, and the one home of service start-up.
``poiesis.cli`` parses the command line and calls here; this module refuses
an exposed server without authentication, picks the database (the embedded
server when none is configured) and migrates it, opens the stores, starts
the backend ``POIESIS_BACKEND`` names and hands them to the API, each part
given its section of the one settings tree (``poiesis.config``) that
``poiesis.cli`` loaded. So ``api`` never imports a backend package and
``api`` and ``local`` never import each other (the import-linter contracts
in setup.cfg keep it so). No request handling, no task logic lives here.

``serve_api`` hands the settings tree to each uvicorn worker inside the
factory itself (a picklable ``functools.partial`` of ``app_from_settings``),
never through ``os.environ``: every worker applies exactly what the command
line said. A database that is down at start does not stop the server:
workers answer 503 and migrate once it returns.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import signal
import threading
import time
from collections.abc import Iterator

import connexion

from poiesis import backend as backends
from poiesis import store
from poiesis.api import serving
from poiesis.api.app import create_app
from poiesis.api.tes.context import Context
from poiesis.config import ServiceInfoSettings, Settings
from poiesis.config.security import is_loopback

log = logging.getLogger(__name__)

ONE_MACHINE = "GA4GH Task Execution Service on one machine, state in PostgreSQL."


# -- the database ------------------------------------------------------------------


def check_exposure(settings: Settings) -> None:
    """Refuse a non-loopback address unless authentication is on."""
    if not is_loopback(settings.api.host) and settings.security.auth.mode == "none":
        raise SystemExit(
            f"poiesis: the API would listen on {settings.api.host}, reachable from other machines, without"
            " authentication: set POIESIS_AUTH=basic or jwt (docs/security.md) or listen on 127.0.0.1"
        )


def database_url(settings: Settings) -> str:
    """The database URL to use, starting the embedded server if none is configured."""
    url = settings.database.url
    if not url:
        data_dir = settings.database.data_dir
        url = store.start_embedded(data_dir)
        print(f"poiesis: embedded PostgreSQL, data in {data_dir}", flush=True)
    return url


def prepare_database(settings: Settings) -> str:
    """The database URL to use, migrated (raises when the database is unreachable)."""
    url = database_url(settings)
    applied = store.migrate(url)
    if applied:
        log.info("applied migrations %s", applied)
    return url


def migrate_when_reachable(url: str, *, interval: float = 2.0) -> threading.Event:
    """Migrate in the background, retrying until the database answers; the event is set when done."""
    done = threading.Event()

    def attempt() -> None:
        while True:
            try:
                store.migrate(url)
                done.set()
                return
            except store.Unavailable as exc:
                log.warning("database unreachable, migrations pending: %s", exc)
            time.sleep(interval)

    threading.Thread(target=attempt, name="poiesis-migrate", daemon=True).start()
    return done


def _with_url(settings: Settings, url: str) -> Settings:
    return dataclasses.replace(settings, database=dataclasses.replace(settings.database, url=url))


# -- the parts -----------------------------------------------------------------------


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


def _sync_store(settings: Settings, url: str) -> store.Store:
    """The store backends write through (their own threads), on a pool of its own."""
    return store.Store(store.open_pool(url, max_size=settings.database.pool_size, timeout=settings.database.timeout))


def _api_store(settings: Settings, url: str) -> store.AsyncStore:
    """The store the API's requests await (opened by the app's lifespan)."""
    return store.AsyncStore(store.open_async_pool(url, max_size=settings.database.pool_size,
                                                  timeout=settings.database.timeout))


def _context(settings: Settings, api_store: store.AsyncStore, backend: backends.Backend) -> Context:
    return Context(store=api_store, backend=backend, service=settings.service, security=settings.security,
                   metrics_dir=settings.metrics.multiproc_dir, tes_version=settings.api.tes_version,
                   feed=settings.feed)


def app_from_settings(settings: Settings) -> connexion.AsyncApp:
    """The app for one worker process, configured by ``settings`` (database URL already resolved).

    A backend that writes from its own threads (the Kubernetes submitter) gets a synchronous
    store of its own; with no backend, the worker opens no synchronous pool at all.
    """
    url = settings.database.url
    if not url:
        raise SystemExit("poiesis: API workers need a database URL")
    check_exposure(settings)
    backend = (backends.NoBackend(settings.filer) if settings.backend == "none"
               else make_backend(settings, task_store=_sync_store(settings, url)))
    return create_app(_context(settings, _api_store(settings, url), backend))


# -- the commands -------------------------------------------------------------------


def serve_api(settings: Settings, *, workers: int = 1) -> None:
    """``poiesis api``: the API with the configured backend, each worker built by ``app_from_settings``."""
    check_exposure(settings)
    if settings.backend == "local" and workers > 1:
        raise SystemExit("poiesis: the local backend runs tasks in the API process; use --workers 1")
    url = database_url(settings)
    try:
        store.migrate(url)
    except store.Unavailable as exc:
        log.warning("database unreachable at start (%s); answering 503 until it returns", exc)
        migrate_when_reachable(url)
    settings = _with_url(settings, url)
    print(f"poiesis: serving TES on http://{settings.api.host}:{settings.api.port}/ga4gh/tes/v1", flush=True)
    serving.run(serving.uvicorn_config(settings, functools.partial(app_from_settings, settings), workers=workers,
                                       factory=True))


def migrate(settings: Settings) -> str:
    """``poiesis migrate``: the database URL used, migrated; and the task credential's role, when one is set."""
    url = prepare_database(settings)
    if settings.database.task_url:
        store.ensure_task_role(url, settings.database.task_url)
    return url


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
    from poiesis.local import service

    check_exposure(settings)
    settings = _one_machine(settings)
    url = prepare_database(settings)
    task_store = _sync_store(settings, url)
    backend = service.start_backend(settings, task_store)
    try:
        app = create_app(_context(settings, _api_store(settings, url), backend))
        print(
            f"poiesis: serving TES on http://{settings.api.host}:{settings.api.port}/ga4gh/tes/v1"
            f" (local backend, {backend.mode.name} mode, {backend.settings.max_tasks} task(s) at once)",
            flush=True,
        )
        with _signals_end_uvicorn_only():
            serving.run(serving.uvicorn_config(settings, app))
    finally:
        backend.close()
        task_store.close()
