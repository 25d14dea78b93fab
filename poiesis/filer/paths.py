"""Where a TES path lives on the shared volume: ``ROOT/files/<absolute path>``."""

from __future__ import annotations

import posixpath
from pathlib import Path

from poiesis.filer.errors import FilerError

FILES_DIR = "files"
STATE_DIR = ".poiesis"


def host_path(root: Path, tes_path: str) -> Path:
    """The local path of the absolute TES path ``tes_path`` under ``root``."""
    if not tes_path.startswith("/"):
        raise FilerError(f"path {tes_path!r} is not absolute")
    norm = posixpath.normpath(tes_path)
    if norm.startswith("//"):
        norm = "/" + norm.lstrip("/")
    if norm == "/":
        raise FilerError(f"path {tes_path!r} names the root directory")
    return root / FILES_DIR / norm.lstrip("/")


def tes_path_of(root: Path, local: Path) -> str:
    """The TES path of a local file under ``ROOT/files`` (inverse of host_path)."""
    return "/" + local.relative_to(root / FILES_DIR).as_posix()


def has_wildcard(path: str) -> bool:
    """Whether ``path`` contains a POSIX pattern character (``*``, ``?`` or ``[``)."""
    return any(c in path for c in "*?[")
