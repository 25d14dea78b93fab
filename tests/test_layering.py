"""The import contracts of setup.cfg (docs/architecture.md): kept, and covering every module.

``lint-imports`` checks the layers (cli above compose above the roles api,
local, tctl, trec and client, which never import each other; those above
record, above kube and backend, above store, above filer, above the shared
definitions), that the API never imports a backend package, and that only
store imports psycopg and only kube the kubernetes client. A contract names
modules, so a new top-level module must be named in it too. The task layout
is spelled in poiesis/layout.py alone.
"""

from __future__ import annotations

import ast
import configparser
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "poiesis"


def _contracts() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(REPO / "setup.cfg")
    return parser


def _named(value: str) -> set[str]:
    return {name.removeprefix("poiesis.") for name in re.split(r"[\s|:]+", value) if name.startswith("poiesis.")}


def _top_level() -> set[str]:
    return {
        path.stem if path.is_file() else path.name
        for path in PACKAGE.iterdir()
        if (path.suffix == ".py" and path.stem != "__init__") or (path / "__init__.py").is_file()
    }


def test_import_contracts_are_kept() -> None:
    """lint-imports finds every contract in setup.cfg kept."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_module_has_a_layer() -> None:
    """Each top-level module and package of poiesis sits in one layer of the layers contract."""
    layers = _contracts()["importlinter:contract:layers"]["layers"]
    assert _top_level() - _named(layers) == set()


def test_client_library_owners_bind_every_other_module() -> None:
    """The psycopg and kubernetes contracts name every top-level module except the owner."""
    contracts = _contracts()
    for contract, owner in (("psycopg", "store"), ("kubernetes", "kube")):
        sources = _named(contracts[f"importlinter:contract:{contract}"]["source_modules"])
        assert sources == _top_level() - {owner}, contract


#: the task layout's names and wildcard characters: written in poiesis/layout.py and nowhere else
LAYOUT_LITERALS = {"files", ".poiesis", "outputs.json", "output_types.json", "*?[", "[*?\\[]"}


def _string_constants(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}


def test_the_task_layout_has_one_home() -> None:
    """No module but poiesis/layout.py spells the task directory's names or the wildcard characters."""
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(_string_constants(path) & LAYOUT_LITERALS)
        for path in PACKAGE.rglob("*.py")
        if path != PACKAGE / "layout.py" and _string_constants(path) & LAYOUT_LITERALS
    }
    assert offenders == {}
