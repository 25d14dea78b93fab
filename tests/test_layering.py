"""The package boundaries of style.md: only store imports psycopg, only kube the kubernetes client."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "poiesis"
OWNERS = {"psycopg": "store", "psycopg_pool": "store", "pgserver": "store", "kubernetes": "kube"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("module", sorted(OWNERS))
def test_only_the_owning_package_imports(module):
    """A client library is imported by its owning package and nowhere else in poiesis/."""
    owner = ROOT / OWNERS[module]
    offenders = [
        str(path.relative_to(ROOT))
        for path in ROOT.rglob("*.py")
        if owner not in path.parents and module in _imports(path)
    ]
    assert offenders == []
