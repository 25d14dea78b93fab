"""Running the API: the database to use, the checks before binding, the app factory of every worker.

``serve`` takes the one ``Settings`` built from flags and environment and
hands it to each uvicorn worker inside the factory itself (a picklable
``functools.partial``), never through ``os.environ``: every worker applies
exactly what the command line said. ``check_exposure`` refuses to listen
beyond loopback without authentication. A database that is down at start
does not stop the server: workers answer 503 and migrate once it returns.
"""

from __future__ import annotations

import functools
import logging
import threading
import time

import connexion

from poiesis import backend as backends
from poiesis import store
from poiesis.api import http
from poiesis.api.app import create_app
from poiesis.api.context import Context
from poiesis.config import Settings
from poiesis.security_settings import is_loopback

log = logging.getLogger(__name__)


def check_exposure(settings: Settings) -> None:
    """Refuse a non-loopback address unless authentication is on."""
    if not is_loopback(settings.host) and settings.security.auth.mode == "none":
        raise SystemExit(
            f"poiesis: the API would listen on {settings.host}, reachable from other machines, without"
            " authentication: set POIESIS_AUTH=basic or jwt (docs/security.md) or listen on 127.0.0.1"
        )


def database_url(settings: Settings) -> str:
    """The database URL to use, starting the embedded server if none is configured."""
    url = settings.database_url
    if not url:
        data_dir = settings.data_dir or store.default_data_dir()
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


def make_backend(settings: Settings, *, task_store: store.Store | None = None) -> backends.Backend:
    """The backend named by POIESIS_BACKEND, started."""
    if settings.backend == "none":
        return backends.NoBackend()
    if settings.backend == "local" and task_store is not None:
        from poiesis.local import service

        return service.start_backend(settings, task_store)
    if settings.backend == "kubernetes":
        from poiesis.kube.backend import KubeBackend
        from poiesis.kube.settings import KubeSettings

        return KubeBackend(KubeSettings.from_env(), store=task_store)
    raise SystemExit(f"poiesis: unknown backend {settings.backend!r} (POIESIS_BACKEND)")


def app_from_settings(settings: Settings) -> connexion.FlaskApp:
    """The app for one worker process, configured by ``settings`` (database URL already resolved)."""
    if not settings.database_url:
        raise SystemExit("poiesis: API workers need a database URL")
    check_exposure(settings)
    pool = store.open_pool(settings.database_url, max_size=settings.db_pool_size, timeout=settings.db_timeout)
    task_store = store.Store(pool)
    context = Context(
        store=task_store, backend=make_backend(settings, task_store=task_store), service=settings.service,
        security=settings.security,
    )
    return create_app(context)


def uvicorn_config(settings: Settings, app, *, workers: int = 1, factory: bool = False):  # noqa: ANN001, ANN201
    """uvicorn's Config for the API: the guarded h11 protocol and the configured limits."""
    import uvicorn

    from poiesis import logs

    limits = settings.security.limits
    config = uvicorn.Config(
        app, factory=factory, host=settings.host, port=settings.port, workers=workers, log_level="info",
        log_config=logs.uvicorn_log_config(logs.log_format()),
        http=http.GuardedH11, timeout_keep_alive=max(1, round(limits.idle_timeout)),
        h11_max_incomplete_event_size=limits.header_bytes, server_header=False,
    )
    setattr(config, http.CONFIG_ATTRIBUTE, limits.header_timeout)
    return config


def serve(settings: Settings, *, workers: int = 1) -> None:
    """Check the exposure, prepare the database, then serve the API with uvicorn until interrupted."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

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
    print(f"poiesis: serving TES on http://{settings.host}:{settings.port}/ga4gh/tes/v1", flush=True)
    config = uvicorn_config(settings, functools.partial(app_from_settings, settings), workers=workers, factory=True)
    if workers > 1:
        # Each worker unpickles this config, factory and settings included (spawn), and loads the app itself.
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    else:
        uvicorn.Server(config).run()


def _with_url(settings: Settings, url: str) -> Settings:
    import dataclasses

    return dataclasses.replace(settings, database_url=url)
