"""The task's layout rules, in one place: where its files live, wildcards, what executors see.

Pure: standard library only (no I/O beyond composing ``pathlib`` paths), so
every layer may use it: the API (to refuse at CreateTask what cannot run),
the filers, TRec, the local backend and the Kubernetes builders. It must
not import any other part of Poiesis; it reads tasks as the generated
``TesTask`` model, imported for the type checker only.

**Task directory.** A task has one directory ``ROOT``: the task volume at
``/transfer`` in a Pod, ``POIESIS_LOCAL_WORK_DIR/<id>`` on the local
backend. A TES absolute path ``P`` lives at ``ROOT/files/P``; the output
filer reports into ``ROOT/.poiesis/outputs.json`` and
``ROOT/.poiesis/output_types.json``.

**Wildcards.** An output path with ``*``, ``?`` or ``[`` is a POSIX pattern;
its ``path_prefix`` is required, a literal prefix of the path, and is cut
from each match to name its URL. It plays no part in what is mounted.

**What executors see** (``mounts``): the smallest set of paths, each taken
from ``ROOT/files``, that makes every task path visible. Directories:
DIRECTORY inputs and outputs, volumes, the parent of every other output
and of every ``stdout``/``stderr`` file (these do not exist before the
executor runs), the literal directory before a wildcard's first pattern
part. Files: FILE inputs, one by one, so an input at ``/usr/local/bin/x``
does not hide the image's ``/usr/local/bin``. A path inside a kept
directory needs no mount of its own. ``/`` is never mounted: a path that
would need it is a problem (``mount_problems``), refused at CreateTask.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from generated.models import TesInput, TesOutput, TesTask

FILES_DIR = "files"
STATE_DIR = ".poiesis"
#: the local backend's private /tmp of the task (ROOT/tmp); not on a Pod's task volume
TMP_DIR = "tmp"
OUTPUTS_FILE = "outputs.json"
OUTPUT_TYPES_FILE = "output_types.json"
WILDCARD_CHARS = frozenset("*?[")
STREAMS = ("stdout", "stderr")


class LayoutError(ValueError):
    """A path the layout cannot place; the message names the path and why."""


@dataclass(frozen=True)
class Mount:
    """One path executors see, taken from ``ROOT/files``: a directory or a single input file."""

    path: str
    is_dir: bool


# -- TES paths ---------------------------------------------------------------


def normalize(tes_path: str) -> str:
    """An absolute TES path without ``.``, ``..``, a trailing slash or repeated slashes."""
    if not tes_path.startswith("/"):
        raise LayoutError(f"path {tes_path!r} is not absolute")
    return "/" + posixpath.normpath(tes_path).lstrip("/")


def path_problem(field: str, path: object) -> str | None:
    """Why ``path`` cannot be a task path (naming ``field``), or None when it can."""
    if not isinstance(path, str) or not path.startswith("/"):
        return f"{field} must be an absolute path, got {path!r}"
    if ".." in path.split("/"):
        return f"{field} must not contain '..', got {path!r}"
    if normalize(path) == "/":
        return f"{field} must not be the root directory"
    return None


def within(path: str, directory: str) -> bool:
    """Whether normalized ``path`` is ``directory`` or below it (``/x`` does not hold ``/xy``)."""
    return path == directory or path.startswith(directory.rstrip("/") + "/")


# -- the task directory --------------------------------------------------------


def volume_path(tes_path: str) -> str:
    """Where ``tes_path`` lives relative to ``ROOT``: ``files/P`` (a Pod's subPath)."""
    norm = normalize(tes_path)
    if norm == "/":
        raise LayoutError(f"path {tes_path!r} names the root directory")
    return FILES_DIR + norm


def files_root(root: Path) -> Path:
    """``ROOT/files``: the directory every TES path lives under."""
    return root / FILES_DIR


def host_path(root: Path, tes_path: str) -> Path:
    """Where the absolute TES path ``tes_path`` lives under the task directory ``root``."""
    return root / volume_path(tes_path)


def tes_path_of(root: Path, local: Path) -> str:
    """The TES path of a file under ``ROOT/files`` (the inverse of ``host_path``)."""
    return "/" + local.relative_to(files_root(root)).as_posix()


def state_dir(root: Path) -> Path:
    """``ROOT/.poiesis``: what the filers and the local backend write about the task."""
    return root / STATE_DIR


def outputs_file(root: Path) -> Path:
    """The output filer's output file logs (a JSON list), written once every upload succeeded."""
    return state_dir(root) / OUTPUTS_FILE


def output_types_file(root: Path) -> Path:
    """The output filer's type of each output, in task order (``FILE`` / ``DIRECTORY``)."""
    return state_dir(root) / OUTPUT_TYPES_FILE


def stream_file(root: Path, index: int, stream: str) -> Path:
    """Where the local backend keeps executor ``index``'s ``stream`` when the task names no file."""
    return state_dir(root) / f"{index}.{stream}"


# -- wildcards -----------------------------------------------------------------


def has_wildcard(path: str) -> bool:
    """Whether ``path`` holds a POSIX pattern character (``*``, ``?`` or ``[``)."""
    return not WILDCARD_CHARS.isdisjoint(path)


def wildcard_base(pattern: str) -> str:
    """The literal directory before the first part of ``pattern`` holding a pattern character."""
    literal = []
    for part in pattern.split("/"):
        if has_wildcard(part):
            break
        literal.append(part)
    return normalize("/".join(literal) or "/")


def prefix_problem(path: str, prefix: str | None, *, field: str = "path") -> str | None:
    """Why ``prefix`` is no valid ``path_prefix`` of the wildcard ``path`` (naming ``field``), or None."""
    if not prefix:
        return f"{field}_prefix is required when {field} has wildcards"
    if not path.startswith(prefix) or has_wildcard(prefix):
        return f"{field}_prefix must be a literal prefix of {field}"
    return None


def strip_prefix(match: str, prefix: str) -> str:
    """A wildcard match without its ``path_prefix``: the part appended to the output's URL."""
    if not match.startswith(prefix):
        raise LayoutError(f"match {match} does not start with path_prefix {prefix}")
    return match[len(prefix):]


# -- what executors see ----------------------------------------------------------


def is_directory(item: TesInput | TesOutput) -> bool:
    """Whether a tesInput/tesOutput says it is a DIRECTORY (a missing type is not)."""
    return str(item.type or "").upper() == "DIRECTORY"


@dataclass(frozen=True)
class _Need:
    """A path the task names (``field``, ``given``) and the mount executors need for it."""

    field: str
    given: str
    mount: Mount
    hint: str = ""


def _needs(task: TesTask) -> Iterator[_Need]:
    """Every path the task's executors must see, before minimizing."""
    for i, item in enumerate(task.inputs or []):
        yield _Need(f"inputs[{i}].path", item.path, Mount(normalize(item.path), is_dir=is_directory(item)))
    for i, out in enumerate(task.outputs or []):
        hint = "" if out.type or has_wildcard(out.path) else " (or give type DIRECTORY if it is one)"
        yield _Need(f"outputs[{i}].path", out.path, Mount(_output_dir(out), is_dir=True), hint)
    for i, path in enumerate(task.volumes or []):
        yield _Need(f"volumes[{i}]", path, Mount(normalize(path), is_dir=True))
    for i, executor in enumerate(task.executors):
        for stream, stream_path in zip(STREAMS, (executor.stdout, executor.stderr), strict=True):
            if stream_path:
                yield _Need(f"executors[{i}].{stream}", stream_path,
                            Mount(posixpath.dirname(normalize(stream_path)), is_dir=True))


def _output_dir(item: TesOutput) -> str:
    """The directory an output needs: itself, its parent, or the base of its pattern."""
    path = item.path
    if has_wildcard(path):
        return wildcard_base(path)
    if is_directory(item):
        return normalize(path)
    return posixpath.dirname(normalize(path))


def _root_problem(need: _Need) -> str:
    return (
        f"{need.field} {need.given} lies directly under /, which executors cannot get from the task"
        f" volume (it would hide the image's whole file system): use a directory, such as"
        f" /outputs{need.given}{need.hint}"
    )


def mount_problems(task: TesTask) -> list[str]:
    """Every path executors could only see with ``/`` mounted, each naming its field.

    Assumes every path passed ``path_problem``; such paths are the API's to refuse.
    """
    return [_root_problem(need) for need in _needs(task) if need.mount.path == "/"]


def mounts(task: TesTask) -> list[Mount]:
    """The smallest set of mounts making every task path visible, sorted by path.

    Raises LayoutError with the first of ``mount_problems`` when a path needs ``/``.
    """
    found: dict[str, Mount] = {}
    for need in _needs(task):
        if need.mount.path == "/":
            raise LayoutError(_root_problem(need))
        path, prior = need.mount.path, found.get(need.mount.path)
        found[path] = Mount(path, is_dir=need.mount.is_dir or (prior is not None and prior.is_dir))
    dirs = [m.path for m in found.values() if m.is_dir]
    kept = [m for m in found.values() if not any(d != m.path and within(m.path, d) for d in dirs)]
    return sorted(kept, key=lambda m: m.path)
