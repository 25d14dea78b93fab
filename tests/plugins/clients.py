"""Real TES clients and workflow engines from PyPI, each in its own virtualenv (scripts/clients).

``client_engine(name)`` installs the engine on first use (pinned versions,
~/.cache/poiesis/clients/<name>-<version>) and returns it; an engine that
cannot be installed fails the test when CI=true and skips it locally, with
the installer's last lines. Each run is recorded (engine, version, mode,
wall time) and listed at the end of the session.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.plugins import unavailable

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "clients"
_RUNS: list[tuple[str, str, str, float, str]] = []


@dataclass(frozen=True)
class Engine:
    """One installed engine: its name, pinned version and virtualenv."""

    name: str
    version: str
    venv: Path

    def bin(self, program: str) -> str:
        return str(self.venv / "bin" / program)

    @property
    def python(self) -> str:
        return self.bin("python")

    def env(self, **extra: str) -> dict[str, str]:
        """The environment to run it in: its venv first on PATH, nothing of the test's POIESIS_*."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("POIESIS_", "VIRTUAL_ENV"))}
        env["PATH"] = f"{self.venv / 'bin'}:{env.get('PATH', '')}"
        env.update(extra)
        return env

    def executor_path(self) -> str:
        """POIESIS_LOCAL_PATH for a server whose process-mode tasks run this engine's programs."""
        from poiesis.local.engine import DEFAULT_PATH

        return f"{self.venv / 'bin'}:{DEFAULT_PATH}"

    def run(self, argv: list[str], *, cwd: Path, mode: str, timeout: float = 600, **env: str) -> subprocess.CompletedProcess:
        """Run ``argv`` (a program of the venv, or any) and record its wall time."""
        start = time.monotonic()
        done = subprocess.run(argv, cwd=cwd, env=self.env(**env), capture_output=True, text=True,
                              timeout=timeout, check=False)
        _RUNS.append((self.name, self.version, mode, time.monotonic() - start, "ok" if done.returncode == 0 else f"exit {done.returncode}"))
        return done


def _versions() -> dict[str, str]:
    out = subprocess.run([str(SCRIPT), "list"], capture_output=True, text=True, check=True).stdout
    return {line.split()[0]: line.split()[1] for line in out.splitlines() if line.strip()}


@pytest.fixture(scope="session")
def client_engine() -> Callable[[str], Engine]:
    """Install (once) and return the named engine of scripts/clients."""
    cache: dict[str, Engine] = {}

    def get(name: str) -> Engine:
        if name not in cache:
            done = subprocess.run([str(SCRIPT), "install", name], capture_output=True, text=True, check=False)
            if done.returncode != 0:
                tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
                unavailable(f"scripts/clients install {name} failed (needs PyPI):\n{tail}")
            venv = Path(subprocess.run([str(SCRIPT), "path", name], capture_output=True, text=True, check=True).stdout.strip())
            cache[name] = Engine(name, _versions()[name], venv)
        return cache[name]

    return get


def pytest_terminal_summary(terminalreporter) -> None:
    if not _RUNS:
        return
    terminalreporter.section("TES clients and workflow engines")
    for name, version, mode, seconds, outcome in _RUNS:
        terminalreporter.write_line(f"{name:<14} {version:<8} {mode:<8} {seconds:7.1f}s  {outcome}")

