"""What the API asks of a backend that runs tasks, and the backend of last resort.

A backend receives a task after it is stored (``submit``) and is told to stop
it (``cancel``). Backends live in their own packages (``kube``, ``local``);
this module only names the contract, so the API depends on no backend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from generated.models import TesTask
from poiesis.filer import FilerConfig, storage_prefixes
from poiesis.parameters import Policy


class Backend(Protocol):
    """A place where tasks run."""

    name: str
    #: the backend_parameters keys this backend implements, each under the operator's allowlist:
    #: service-info lists ``parameters.enabled``; CreateTask refuses what ``parameters.refusals`` names
    parameters: Policy
    #: the operator's maximum time of a task in seconds (POIESIS_MAX_TASK_SECONDS; 0: none)
    max_task_seconds: int

    @property
    def file_roots(self) -> tuple[Path | str, ...]:
        """Directories the backend's filers may use through file:// URLs (empty: none).

        CreateTask refuses file:// URLs outside them.
        """

    #: URL prefixes the backend's filers can read and write (service-info ``storage``),
    #: ``file:///<root>/`` for each of ``file_roots`` (see ``filer.storage_prefixes``).
    storage: tuple[str, ...]
    #: True when the backend itself writes CANCELED once a cancelled task is gone;
    #: False when the API must write it right after ``cancel`` returns.
    writes_cancel: bool
    @property
    def submit_blocks(self) -> bool:
        """True when ``submit`` talks to the cluster or the database in the caller's thread.

        The API then calls it from a worker thread instead of its event loop.
        """

    def submit(self, task_id: str, task: TesTask) -> None:
        """Start running a stored task; raise to have it end as SYSTEM_ERROR.

        ``task`` is the validated model CreateTask stored (or, from TCtl, the stored task read back
        once); a backend reads it and never changes it.
        """

    def cancel(self, task_id: str) -> None:
        """Stop a task; must be harmless when repeated or when nothing runs."""


class NoBackend:
    """No backend configured: tasks stay QUEUED, cancel ends them at once.

    Its storage is what filers with ``filer_config`` (the settings' ``filer`` section) reach.
    """

    name = "none"
    parameters = Policy()
    max_task_seconds = 0
    writes_cancel = False
    submit_blocks = False

    def __init__(self, filer_config: FilerConfig | None = None) -> None:
        config = filer_config or FilerConfig()
        self.file_roots: tuple[Path, ...] = config.file_roots
        self.storage: tuple[str, ...] = storage_prefixes(config.file_roots, s3_buckets=config.s3_buckets)

    def submit(self, task_id: str, task: TesTask) -> None:
        """Nothing runs tasks; they wait QUEUED for a backend."""

    def cancel(self, task_id: str) -> None:
        """Nothing downstream to stop."""
