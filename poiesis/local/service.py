"""Starting the local backend of ``poiesis serve``: its mode, exposure check and file:// roots.

``poiesis.compose`` runs it with the embedded PostgreSQL (unless a database
URL is given) and the API in one uvicorn process; this module knows nothing
of the API.
"""

from __future__ import annotations

import logging
from pathlib import Path

from poiesis import filer, store
from poiesis.config import Settings
from poiesis.local import engine
from poiesis.local.scheduler import LocalBackend, check_exposure

log = logging.getLogger(__name__)


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
    """A started local backend for the API listening on ``settings.api.host``; refuses unsafe exposure."""
    local = settings.local
    mode = engine.detect(engine=local.engine, pull=local.pull, network=local.network)
    check_exposure(mode, host=settings.api.host, allowed=local.allow_unisolated, remote=local.allow_remote)
    config = settings.filer.with_default_roots(default_file_roots())
    backend = LocalBackend(task_store, settings=local, mode=mode, filer_config=config)
    print(file_roots_line(config.file_roots), flush=True)
    return backend.start()
