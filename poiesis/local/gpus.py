"""GPUs on this machine for the local backend: how many there are, the ``gpu`` parameter's rule, the engine flag.

Podman reaches NVIDIA GPUs through CDI: ``nvidia-ctk cdi generate`` writes a
spec of kind ``nvidia.com/gpu`` under /etc/cdi or /var/run/cdi, and
``--device=nvidia.com/gpu=all`` gives a container every GPU it names. Docker
uses the NVIDIA container toolkit's ``--gpus=N``; its GPUs are those
``nvidia-smi -L`` lists. Process mode runs no containers and gets none.
``POIESIS_LOCAL_GPUS`` declares the count instead of finding it (0: none).

``count_cdi``, ``count_smi``, ``policy`` and ``options`` are pure; ``detect`` reads
files and runs ``nvidia-smi``.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from poiesis.parameters import Allowance, Policy

log = logging.getLogger(__name__)

SETTING = "POIESIS_LOCAL_GPUS"
CDI_KIND = "nvidia.com/gpu"
CDI_DIRS = (Path("/etc/cdi"), Path("/var/run/cdi"))


@dataclass(frozen=True)
class Found:
    """How many GPUs tasks may use here, and how that was found (said when a task asks for more)."""

    count: int
    how: str


def count_cdi(specs: Iterable[Any]) -> int:
    """GPUs the CDI specs name: devices of kind nvidia.com/gpu by index (or by any name but ``all`` without indices)."""
    names: list[str] = []
    for spec in specs:
        if isinstance(spec, dict) and spec.get("kind") == CDI_KIND:
            names += [str(d.get("name")) for d in spec.get("devices") or [] if isinstance(d, dict)]
    indices = [n for n in names if n.isdigit()]
    return len(set(indices)) if indices else len({n for n in names if n != "all"})


def count_smi(listing: str) -> int:
    """GPUs in ``nvidia-smi -L`` output (one ``GPU <i>: <name> (UUID: ...)`` line each)."""
    return sum(1 for line in listing.splitlines() if line.startswith("GPU "))


def _cdi_specs(dirs: Iterable[Path]) -> Iterable[Any]:
    for directory in dirs:
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.json")):
            try:
                yield yaml.safe_load(path.read_text())
            except (OSError, yaml.YAMLError) as exc:
                log.warning("CDI spec %s not read: %s", path, exc)


def _smi() -> str:
    cli = shutil.which("nvidia-smi")
    if cli is None:
        return ""
    try:
        return subprocess.run([cli, "-L"], capture_output=True, text=True, timeout=20, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


def detect(engine: str, *, declared: int | None, cdi_dirs: Iterable[Path] = CDI_DIRS) -> Found:
    """The GPUs tasks may use with this engine (``podman``, ``docker`` or ``process``)."""
    if engine not in ("podman", "docker"):
        return Found(0, "executors run as host processes, with no container engine to give them GPUs")
    if declared is not None:
        return Found(declared, f"{SETTING}={declared}")
    if engine == "podman":
        dirs = tuple(cdi_dirs)
        found = count_cdi(_cdi_specs(dirs))
        return Found(found, f"CDI specs of {CDI_KIND} in {' and '.join(map(str, dirs))}: {found}")
    found = count_smi(_smi())
    return Found(found, f"nvidia-smi -L: {found}")


def policy(found: Found) -> Policy:
    """``gpu``: from 1 to the GPUs found; with none, refused saying why."""
    off = f"this machine has no GPU for tasks ({found.how}; {SETTING} declares them)"
    return Policy((Allowance("gpu", SETTING, "count", maximum=found.count, off=off),))


def options(engine: str, gpus: int) -> list[str]:
    """The engine's flag giving a container GPUs: podman's CDI device (every GPU), docker's ``--gpus=N``."""
    if not gpus:
        return []
    if engine == "docker":
        return [f"--gpus={gpus}"]
    return [f"--device={CDI_KIND}=all"]
