"""Running the API: the database to use, the app factory uvicorn's workers call.

``prepare_database`` runs once in the parent process (embedded server,
migrations); each worker process then builds its own pool in ``app_from_env``.
"""

from __future__ import annotations

import logging
import os

import connexion

from poiesis import backend as backends
from poiesis import store
from poiesis.api.app import create_app
from poiesis.api.context import Context
from poiesis.config import Settings

log = logging.getLogger(__name__)


def prepare_database(settings: Settings) -> str:
    """The database URL to use, starting the embedded server if none is configured; migrated."""
    url = settings.database_url
    if not url:
        data_dir = settings.data_dir or store.default_data_dir()
        url = store.start_embedded(data_dir)
        print(f"poiesis: embedded PostgreSQL, data in {data_dir}", flush=True)
    applied = store.migrate(url)
    if applied:
        log.info("applied migrations %s", applied)
    return url


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

        return KubeBackend(KubeSettings.from_env())
    raise SystemExit(f"poiesis: unknown backend {settings.backend!r} (POIESIS_BACKEND)")


def app_from_env() -> connexion.FlaskApp:
    """The app for one worker process, configured from the environment."""
    settings = Settings.from_env()
    if not settings.database_url:
        raise SystemExit("poiesis: POIESIS_DATABASE_URL must be set for API workers")
    pool = store.open_pool(settings.database_url, max_size=settings.db_pool_size, timeout=settings.db_timeout)
    task_store = store.Store(pool)
    context = Context(store=task_store, backend=make_backend(settings, task_store=task_store), service=settings.service)
    return create_app(context)


def serve(settings: Settings, *, workers: int = 1) -> None:
    """Prepare the database, then serve the API with uvicorn until interrupted."""
    import uvicorn

    if settings.backend == "local" and workers > 1:
        raise SystemExit("poiesis: the local backend runs tasks in the API process; use --workers 1")
    url = prepare_database(settings)
    os.environ["POIESIS_DATABASE_URL"] = url
    print(f"poiesis: serving TES on http://{settings.host}:{settings.port}/ga4gh/tes/v1", flush=True)
    uvicorn.run(
        "poiesis.api.server:app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_level="info",
    )
