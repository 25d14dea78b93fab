"""What the TES operations work with: the store, the backend and the service description."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import anyio.to_thread

from generated.models import TesTask
from poiesis import backend as backends
from poiesis import lifecycle, logs
from poiesis.api import document
from poiesis.config import FeedSettings, ServiceInfoSettings
from poiesis.config.security import SecuritySettings
from poiesis.states import State
from poiesis.store import AsyncStore

log = logging.getLogger(__name__)

#: The change feed (poiesis.api.feed) and the dashboard (poiesis.api.dashboard), as service-info names them.
EVENTS_PATH = "/ga4gh/tes/v1/events"
DASHBOARD_PATH = "/dashboard/"
#: How service-info names them: in its description, as the TES schema has no member for extensions.
EXTENSIONS = (f"Extensions (docs/api.md): task events as Server-Sent Events at {EVENTS_PATH};"
              f" a web dashboard at {DASHBOARD_PATH}.")


def service_info(settings: ServiceInfoSettings, backend: backends.Backend,
                 tes_version: str = document.DEFAULT_VERSION) -> dict[str, Any]:
    """The GET /service-info body for this deployment; ``type.version`` is the served document's (1.1.0, 1.2.0)."""
    info: dict[str, Any] = {
        "id": settings.id,
        "name": settings.name,
        "type": {"group": "org.ga4gh", "artifact": "tes", "version": document.service_type_version(tes_version)},
        "description": " ".join(
            part for part in (settings.description, getattr(backend, "service_description", None), EXTENSIONS) if part
        ),
        "organization": {"name": settings.organization_name, "url": settings.organization_url},
        "version": settings.version,
        "storage": list(backend.storage),
        "tesResources_backend_parameters": sorted(backend.parameters.enabled),
    }
    for key, value in (
        ("contactUrl", settings.contact_url),
        ("documentationUrl", settings.documentation_url),
        ("environment", settings.environment),
    ):
        if value:
            info[key] = value
    return info


@dataclass
class Context:
    """The operations' view of the running service; ``store`` is opened by the app's lifespan."""

    store: AsyncStore
    backend: backends.Backend = field(default_factory=backends.NoBackend)
    service: ServiceInfoSettings = field(default_factory=ServiceInfoSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    #: PROMETHEUS_MULTIPROC_DIR: /metrics sums every worker's series
    metrics_dir: str | None = None
    #: the TES version served (POIESIS_TES_VERSION): its document and service-info's type.version
    tes_version: str = document.DEFAULT_VERSION
    feed: FeedSettings = field(default_factory=FeedSettings)

    @property
    def service_info(self) -> dict[str, Any]:
        return service_info(self.service, self.backend, self.tes_version)

    @cached_property
    def service_info_json(self) -> bytes:
        """The service-info body, encoded once: nothing in it changes while the process runs."""
        return json.dumps(self.service_info, separators=(",", ":")).encode()

    async def submit(self, task_id: str, task: TesTask) -> None:
        """Hand a stored task to the backend; a failure ends it SYSTEM_ERROR, saying why."""
        try:
            if self.backend.submit_blocks:
                await anyio.to_thread.run_sync(self.backend.submit, task_id, task)
            else:
                self.backend.submit(task_id, task)
        except Exception as exc:  # any failure ends the task, visibly
            log.exception("submitting task %s to %s failed", task_id, self.backend.name)
            lines = list(lifecycle.submission_failed(self.backend.name, exc).lines)
            await self.store.write_terminal_state(task_id, State.SYSTEM_ERROR, system_logs=lines, ended_by="api")

    async def cancel_task(self, task_id: str, *, owner: str | None) -> str | None:
        """CancelTask: CANCELING (when the rules allow), then the backend stops it; the state after, None if no task.

        ``owner``: only that owner's task (None: any, for administrators). The API's operation and
        the dashboard's cancel button both come here.
        """
        current = await self.store.advance(task_id, State.CANCELING, owner=owner)
        if current == State.CANCELING:
            with logs.task(task_id):
                log.info("cancel requested")
                await self.cancel(task_id)
        return current

    async def cancel(self, task_id: str) -> None:
        """Ask the backend to stop a CANCELING task (from a worker thread); write CANCELED if it will not."""
        try:
            await anyio.to_thread.run_sync(self.backend.cancel, task_id)
        except Exception:  # the reconciler finishes a cancel that failed here
            log.exception("cancelling task %s on %s failed; it stays CANCELING", task_id, self.backend.name)
            return
        if not self.backend.writes_cancel:
            await self.store.write_terminal_state(task_id, State.CANCELED, system_logs=lifecycle.cancelled().lines,
                                                  ended_by="api")
