"""The rules of a task document that the OpenAPI schema cannot express: pure.

The schema checks types, required fields and enums; this module checks what
TES says in prose (absolute paths, url-or-content, path_prefix with
wildcards) and what a task must have to run at all (an executor, a command).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Mapping
from typing import Any

_WILDCARD = re.compile(r"[*?\[]")


def problems(task: Mapping[str, Any]) -> list[str]:
    """Every rule the task breaks, each naming the field; empty when it is valid."""
    return list(_problems(task))


def has_wildcard(path: str) -> bool:
    """Whether a path holds a POSIX pattern character."""
    return bool(_WILDCARD.search(path))


def _path_problem(field: str, path: Any) -> str | None:
    if not isinstance(path, str) or not path.startswith("/"):
        return f"{field} must be an absolute path, got {path!r}"
    if ".." in path.split("/"):
        return f"{field} must not contain '..', got {path!r}"
    if posixpath.normpath(path) == "/":
        return f"{field} must not be the root directory"
    return None


def _problems(task: Mapping[str, Any]) -> Iterator[str]:
    executors = task.get("executors") or []
    if not executors:
        yield "executors must list at least one executor"
    for i, ex in enumerate(executors):
        if not ex.get("image"):
            yield f"executors[{i}].image must not be empty"
        if not ex.get("command"):
            yield f"executors[{i}].command must list at least one argument"
        for key in ("workdir", "stdin", "stdout", "stderr"):
            if ex.get(key) is not None and (msg := _path_problem(f"executors[{i}].{key}", ex[key])):
                yield msg
    for i, item in enumerate(task.get("inputs") or []):
        if msg := _path_problem(f"inputs[{i}].path", item.get("path")):
            yield msg
        if not item.get("url") and item.get("content") is None:
            yield f"inputs[{i}] needs a url or content"
    for i, item in enumerate(task.get("outputs") or []):
        path = item.get("path")
        if msg := _path_problem(f"outputs[{i}].path", path):
            yield msg
        elif has_wildcard(path):
            yield from _wildcard_problems(i, path, item.get("path_prefix"))
        if not item.get("url"):
            yield f"outputs[{i}].url must not be empty"
    for i, path in enumerate(task.get("volumes") or []):
        if msg := _path_problem(f"volumes[{i}]", path):
            yield msg


def _wildcard_problems(i: int, path: str, prefix: str | None) -> Iterator[str]:
    if not prefix:
        yield f"outputs[{i}].path_prefix is required when outputs[{i}].path has wildcards"
    elif not path.startswith(prefix) or has_wildcard(prefix):
        yield f"outputs[{i}].path_prefix must be a literal prefix of outputs[{i}].path"


def split_backend_parameters(
    params: Mapping[str, str] | None, supported: frozenset[str]
) -> tuple[dict[str, str], list[str]]:
    """(the supported key/values, the unsupported keys); keys compare case-insensitively."""
    kept, unsupported = {}, []
    for key, value in (params or {}).items():
        if key.lower() in supported:
            kept[key.lower()] = value
        else:
            unsupported.append(key)
    return kept, unsupported
