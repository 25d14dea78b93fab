"""The code checks of the repository run as tests: ruff and mypy, configured in pyproject.toml.

A finding fails the suite with the tool's own report, so CI (scripts/test on
a clean clone) holds the code to the configured rules.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def python_scripts() -> list[str]:
    """The Python programs in scripts/ (no .py suffix: found by their #! line)."""
    found = []
    for path in sorted((REPO / "scripts").iterdir()):
        if path.is_file() and "python" in path.read_text(errors="ignore").partition("\n")[0]:
            found.append(str(path.relative_to(REPO)))
    return found


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, check=False)


def test_ruff_finds_nothing() -> None:
    """ruff check passes on the package, dev/, the tests, the benchmarks and the Python scripts."""
    result = _run("ruff", "check", "--no-cache", "poiesis", "dev", "tests", "bench", *python_scripts())
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_finds_nothing() -> None:
    """mypy passes on the package and dev/, strict where pyproject.toml says (states, store, outcome, reconcile)."""
    result = _run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr
