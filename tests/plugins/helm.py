"""Pytest plugin: the Helm binary of scripts/helm and the chart, rendered with chosen values.

``helm`` (session) builds Helm once if needed (cold: ~10 minutes) and yields a runner;
``render`` runs ``helm template`` and returns the objects. With CI=true a failed build
fails the tests; locally they are skipped with the reason.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.plugins import unavailable

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "helm"
CHART = REPO / "deploy" / "helm" / "poiesis"


@dataclasses.dataclass(frozen=True)
class Helm:
    """Runs the built Helm binary."""

    binary: Path

    def run(self, *args: str, check: bool = True, timeout: float = 300, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([str(self.binary), *args], capture_output=True, text=True, timeout=timeout,
                              check=False, env=env)
        if check and proc.returncode != 0:
            raise AssertionError(f"helm {' '.join(args[:3])} failed ({proc.returncode}):\n{proc.stderr}{proc.stdout}")
        return proc

    def render(self, *sets: str, values: dict[str, Any] | None = None, namespace: str = "ns",
               release: str = "t") -> list[dict[str, Any]]:
        """``helm template`` of the chart with ``--set`` pairs and a values document; the objects."""
        args = ["template", release, str(CHART), "-n", namespace]
        for pair in sets:
            args += ["--set", pair]
        if values is not None:
            args += ["--values", "-"]
        proc = subprocess.run([str(self.binary), *args], input=json.dumps(values) if values else None,
                              capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode != 0:
            raise RenderError(proc.stderr)
        return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


class RenderError(Exception):
    """helm template refused the values."""


@pytest.fixture(scope="session")
def helm() -> Helm:
    """Helm v3 from scripts/helm (built here if it is not cached yet)."""
    proc = subprocess.run([str(SCRIPT), "build"], capture_output=True, text=True, timeout=1800, check=False)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        unavailable(f"`scripts/helm build` failed (exit {proc.returncode}):\n{tail}")
    return Helm(Path(proc.stdout.strip().splitlines()[-1]))
