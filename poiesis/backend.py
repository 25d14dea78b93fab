"""What the API asks of a backend that runs tasks, and the backend of last resort.

A backend receives a task after it is stored (``submit``) and is told to stop
it (``cancel``). Backends live in their own packages (``kube``, ``local``);
this module only names the contract, so the API depends on no backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from poiesis.filer import SUPPORTED_SCHEMES


class Backend(Protocol):
    """A place where tasks run."""

    name: str
    #: backend_parameters keys this backend understands (listed in service-info).
    backend_parameters: frozenset[str]
    #: URL schemes the backend's filers can read and write (service-info ``storage``).
    storage: tuple[str, ...]
    #: True when the backend itself writes CANCELED once a cancelled task is gone;
    #: False when the API must write it right after ``cancel`` returns.
    writes_cancel: bool

    def submit(self, task_id: str, task: Mapping[str, Any]) -> None:
        """Start running a stored task; raise to have it end as SYSTEM_ERROR."""

    def cancel(self, task_id: str) -> None:
        """Stop a task; must be harmless when repeated or when nothing runs."""


class NoBackend:
    """No backend configured: tasks stay QUEUED, cancel ends them at once."""

    name = "none"
    backend_parameters: frozenset[str] = frozenset()
    storage: tuple[str, ...] = SUPPORTED_SCHEMES
    writes_cancel = False

    def submit(self, task_id: str, task: Mapping[str, Any]) -> None:
        """Nothing runs tasks; they wait QUEUED for a backend."""

    def cancel(self, task_id: str) -> None:
        """Nothing downstream to stop."""
