"""Which TES paths a task's executors see, and where they live on this machine.

Pure: no I/O. A TES path P lives at ``ROOT/files/P`` (the pod contract).
``mapped_paths`` is the smallest set of paths that covers every input,
output and volume: a FILE input maps itself, an output maps its parent
directory (the executor creates the file), a DIRECTORY input or a volume
maps itself, a wildcard output maps the directory before its first
wildcard. Container mode bind-mounts each of them at its TES path; process
mode rewrites them textually in commands and environment values.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FILES_DIR = "files"
STATE_DIR = ".poiesis"

# Characters that continue a path: a mapped path only matches where it is not
# part of a longer name on either side.
_PATH_CHAR = r"[\w.\-~+@%]"


@dataclass(frozen=True)
class Mapped:
    """One TES path executors see: a directory (created before they run) or an input file."""

    path: str
    is_dir: bool


def normalize(tes_path: str) -> str:
    """An absolute TES path without ``.``, ``..`` or repeated slashes."""
    if not tes_path.startswith("/"):
        raise ValueError(f"path {tes_path!r} is not absolute")
    norm = posixpath.normpath(tes_path)
    return "/" + norm.lstrip("/")


def host_path(root: Path, tes_path: str) -> Path:
    """Where the absolute TES path lives under the task's root directory."""
    norm = normalize(tes_path)
    if norm == "/":
        raise ValueError("the root directory cannot be mapped")
    return root / FILES_DIR / norm.lstrip("/")


def _wildcard_dir(path: str) -> str:
    parts = path.split("/")
    literal = []
    for part in parts:
        if any(c in part for c in "*?["):
            break
        literal.append(part)
    return normalize("/".join(literal) or "/")


def _candidates(task: Mapping[str, Any]) -> Iterable[Mapped]:
    for item in task.get("inputs") or []:
        path = normalize(item["path"])
        yield Mapped(path, is_dir=(item.get("type") or "FILE").upper() == "DIRECTORY")
    for item in task.get("outputs") or []:
        path = item["path"]
        if any(c in path for c in "*?["):
            yield Mapped(_wildcard_dir(path), is_dir=True)
        elif (item.get("type") or "").upper() == "DIRECTORY":
            yield Mapped(normalize(path), is_dir=True)
        else:
            yield Mapped(posixpath.dirname(normalize(path)), is_dir=True)
    for path in task.get("volumes") or []:
        yield Mapped(normalize(path), is_dir=True)


def _covers(outer: str, inner: str) -> bool:
    return inner == outer or inner.startswith(outer.rstrip("/") + "/")


def mapped_paths(task: Mapping[str, Any]) -> list[Mapped]:
    """The smallest set of mapped paths covering the task's inputs, outputs and volumes, sorted.

    A path at the top level (``/out.txt``) maps its parent, the root, which
    cannot be mapped: such outputs are refused by ``ValueError``.
    """
    found: dict[str, Mapped] = {}
    for cand in _candidates(task):
        if cand.path == "/":
            raise ValueError("outputs directly under / cannot be mapped; use a directory such as /outputs")
        prior = found.get(cand.path)
        found[cand.path] = Mapped(cand.path, is_dir=cand.is_dir or bool(prior and prior.is_dir))
    kept = [
        m for m in found.values()
        if not any(o.path != m.path and o.is_dir and _covers(o.path, m.path) for o in found.values())
    ]
    return sorted(kept, key=lambda m: m.path)


def rewriter(paths: Iterable[str], *, root: Path) -> Callable[[str], str]:
    """A function replacing each of ``paths`` (and anything below it) in a text by its host path.

    A path matches only as a whole name: not preceded by a path character or
    ``/`` and followed by ``/``, the end, or a character that cannot continue
    a file name. ``/data`` thus rewrites ``/data``, ``/data/x`` and
    ``--in=/data/x``, but not ``/database`` or ``/old/data``.
    """
    ordered = sorted(set(paths), key=len, reverse=True)
    if not ordered:
        return lambda text: text
    pattern = re.compile(
        rf"(?<!{_PATH_CHAR})(?<!/)({'|'.join(re.escape(p) for p in ordered)})(?!{_PATH_CHAR})"
    )
    base = str(root / FILES_DIR)

    def rewrite(text: str) -> str:
        return pattern.sub(lambda m: base + m.group(1), text)

    return rewrite
