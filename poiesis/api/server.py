"""Running the API: the database to use, the checks before binding, uvicorn and its workers.

``serve`` takes the one settings tree (``poiesis.config``, flags applied) and
hands it to each uvicorn worker inside the factory itself (a picklable
``functools.partial`` of the factory ``poiesis.compose`` passes in), never
through ``os.environ``: every worker applies exactly what the command line
said. Which backend the workers get is the composition root's business, not
this module's. ``check_exposure`` refuses to listen beyond loopback without
authentication. A database that is down at start does not stop the server:
workers answer 503 and migrate once it returns.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable

import connexion

from poiesis import store
from poiesis.api import http
from poiesis.config import Settings
from poiesis.config.security import is_loopback

log = logging.getLogger(__name__)


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


def uvicorn_config(settings: Settings, app, *, workers: int = 1, factory: bool = False):  # noqa: ANN001, ANN201
    """uvicorn's Config for the API: the guarded protocol (httptools) and the configured limits."""
    import uvicorn

    from poiesis import logs

    limits = settings.security.limits
    config = uvicorn.Config(
        app, factory=factory, host=settings.api.host, port=settings.api.port, workers=workers, log_level="info",
        log_config=logs.uvicorn_log_config(settings.logging.format), access_log=settings.api.access_log,
        http=http.protocol(), timeout_keep_alive=max(1, round(limits.idle_timeout)),
        h11_max_incomplete_event_size=limits.header_bytes, server_header=False,
    )
    setattr(config, http.CONFIG_ATTRIBUTE, limits.header_timeout)
    setattr(config, http.HEADER_BYTES_ATTRIBUTE, limits.header_bytes)
    return config


def serve(
    settings: Settings, app_factory: Callable[[Settings], connexion.FlaskApp], *, workers: int = 1
) -> None:
    """Check the exposure, prepare the database, then serve ``app_factory(settings)`` until interrupted.

    ``app_factory`` must be a module-level function: workers unpickle it.
    """
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
    print(f"poiesis: serving TES on http://{settings.api.host}:{settings.api.port}/ga4gh/tes/v1", flush=True)
    config = uvicorn_config(settings, functools.partial(app_factory, settings), workers=workers, factory=True)
    if workers > 1:
        # Each worker unpickles this config, factory and settings included (spawn), and loads the app itself.
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    else:
        uvicorn.Server(config).run()


def _with_url(settings: Settings, url: str) -> Settings:
    import dataclasses

    return dataclasses.replace(settings, database=dataclasses.replace(settings.database, url=url))
