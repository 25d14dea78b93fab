"""Local backend settings, read once from POIESIS_LOCAL_* environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ENGINES = ("auto", "podman", "docker", "process")
PULL_POLICIES = ("never", "missing", "always", "newer")
KiB = 1024


def default_work_dir() -> Path:
    """Where task working directories go unless told otherwise."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "poiesis" / "tasks"


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class LocalSettings:
    """How the local backend runs tasks."""

    max_tasks: int = max(1, os.cpu_count() or 1)
    work_dir: Path = field(default_factory=default_work_dir)
    engine: str = "auto"
    pull: str = "never"
    network: str = "none"
    allow_unisolated: bool = False
    #: Serve tasks to other machines at all (a non-loopback API address), in any mode.
    allow_remote: bool = False
    tail_bytes: int = 64 * KiB
    keep_work_dirs: bool = False
    #: Process mode: the PATH executors get (None: the standard one, never the server's).
    process_path: str | None = None

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"POIESIS_LOCAL_ENGINE must be one of {', '.join(ENGINES)}, not {self.engine!r}")
        if self.pull not in PULL_POLICIES:
            raise ValueError(f"POIESIS_LOCAL_PULL must be one of {', '.join(PULL_POLICIES)}, not {self.pull!r}")
        if self.max_tasks < 1:
            raise ValueError("POIESIS_LOCAL_MAX_TASKS must be at least 1")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LocalSettings:
        """Settings from POIESIS_LOCAL_* variables, defaults for the rest."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(f"POIESIS_LOCAL_{name}")
            return value if value else None

        work_dir = get("WORK_DIR")
        return cls(
            max_tasks=int(get("MAX_TASKS") or cls.max_tasks),
            work_dir=Path(work_dir) if work_dir else default_work_dir(),
            engine=(get("ENGINE") or "auto").lower(),
            pull=(get("PULL") or "never").lower(),
            network=get("NETWORK") or "none",
            allow_unisolated=_flag(get("ALLOW_UNISOLATED")),
            allow_remote=_flag(get("ALLOW_REMOTE")),
            tail_bytes=int(get("TAIL_BYTES") or cls.tail_bytes),
            keep_work_dirs=_flag(get("KEEP_WORK_DIRS")),
            process_path=get("PATH"),
        )
