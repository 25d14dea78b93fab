"""The ``local`` section of the settings tree: how the local backend runs tasks, from POIESIS_LOCAL_*."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from poiesis.config.env import Env, SettingsError, choice, data_home, flag, integer, path, string, text

ENGINES = ("auto", "podman", "docker", "process")
PULL_POLICIES = ("never", "missing", "always", "newer")
KiB = 1024


def max_task_seconds(env: Env) -> int:
    """POIESIS_MAX_TASK_SECONDS: the operator's maximum time of a task, whichever backend runs it (0: none)."""
    return integer(env, "POIESIS_MAX_TASK_SECONDS", 0)


def default_work_dir(env: Env) -> Path:
    """Where task working directories go unless told otherwise: under XDG_DATA_HOME (~/.local/share)."""
    return data_home(env) / "poiesis" / "tasks"


@dataclass(frozen=True)
class LocalSettings:
    """How the local backend runs tasks."""

    max_tasks: int = max(1, os.cpu_count() or 1)
    work_dir: Path = field(default_factory=lambda: default_work_dir({}))
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
    #: GPUs tasks may use (``gpu`` backend parameter); None: found at start (local/gpus.py), 0: none
    gpus: int | None = None
    #: the most seconds a task may run (POIESIS_MAX_TASK_SECONDS, shared with the kube section; 0: no maximum)
    max_task_seconds: int = 0

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise SettingsError(f"POIESIS_LOCAL_ENGINE must be one of {', '.join(ENGINES)}, not {self.engine!r}")
        if self.pull not in PULL_POLICIES:
            raise SettingsError(f"POIESIS_LOCAL_PULL must be one of {', '.join(PULL_POLICIES)}, not {self.pull!r}")
        if self.max_task_seconds < 0:
            raise SettingsError("POIESIS_MAX_TASK_SECONDS must be 0 (no maximum) or more")
        if self.max_tasks < 1:
            raise SettingsError("POIESIS_LOCAL_MAX_TASKS must be at least 1")
        if self.gpus is not None and self.gpus < 0:
            raise SettingsError("POIESIS_LOCAL_GPUS must be auto, 0 (none) or more")

    @classmethod
    def from_env(cls, env: Env) -> LocalSettings:
        """Settings from POIESIS_LOCAL_* variables (and XDG_DATA_HOME), defaults for the rest."""
        return cls(
            max_tasks=integer(env, "POIESIS_LOCAL_MAX_TASKS", cls.max_tasks),
            work_dir=path(env, "POIESIS_LOCAL_WORK_DIR") or default_work_dir(env),
            engine=choice(env, "POIESIS_LOCAL_ENGINE", cls.engine, ENGINES, lower=True),
            pull=choice(env, "POIESIS_LOCAL_PULL", cls.pull, PULL_POLICIES, lower=True),
            network=string(env, "POIESIS_LOCAL_NETWORK", cls.network),
            allow_unisolated=flag(env, "POIESIS_LOCAL_ALLOW_UNISOLATED"),
            allow_remote=flag(env, "POIESIS_LOCAL_ALLOW_REMOTE"),
            tail_bytes=integer(env, "POIESIS_LOCAL_TAIL_BYTES", cls.tail_bytes),
            keep_work_dirs=flag(env, "POIESIS_LOCAL_KEEP_WORK_DIRS"),
            process_path=text(env, "POIESIS_LOCAL_PATH"),
            gpus=None if string(env, "POIESIS_LOCAL_GPUS", "auto").lower() == "auto"
            else integer(env, "POIESIS_LOCAL_GPUS", 0),
            max_task_seconds=max_task_seconds(env),
        )
