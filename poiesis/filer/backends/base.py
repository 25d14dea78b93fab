"""The interface every scheme implements."""

from __future__ import annotations

import abc
from pathlib import Path

from poiesis.config.filer import FilerConfig


class Backend(abc.ABC):
    """Moves whole files between a URL and a local path, streaming."""

    def __init__(self, config: FilerConfig) -> None:
        self.config = config

    @abc.abstractmethod
    def get_file(self, url: str, dest: Path) -> int:
        """Download ``url`` to ``dest`` (atomically: temp file then rename); return its size."""

    @abc.abstractmethod
    def put_file(self, src: Path, url: str) -> None:
        """Upload the local file ``src`` to ``url``; return only once it is complete."""

    @abc.abstractmethod
    def list_files(self, url: str) -> list[str]:
        """Relative POSIX paths of every file below the directory ``url``."""

    def close(self) -> None:  # noqa: B027 - optional: the default holds nothing to release
        """Release connections; the default holds none."""
