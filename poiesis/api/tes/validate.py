"""The rules of a task document that the OpenAPI schema cannot express: pure.

The schema checks types, required fields and enums; this module checks what
TES says in prose (absolute paths, url-or-content, path_prefix with
wildcards) and what a task must have to run at all (an executor, a command).
It reads the body as sent, before it becomes a ``TesTask``; whether executors
can be given its paths (``layout.mount_problems``) is asked of that model
next. The path and wildcard rules themselves live in ``poiesis.layout``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from poiesis import images, layout


def problems(task: Mapping[str, Any]) -> list[str]:
    """Every rule the task document breaks, each naming the field; empty when it is valid."""
    return list(_problems(task))


def _problems(task: Mapping[str, Any]) -> Iterator[str]:
    executors = task.get("executors") or []
    if not executors:
        yield "executors must list at least one executor"
    for i, ex in enumerate(executors):
        if not ex.get("image"):
            yield f"executors[{i}].image must not be empty"
        elif msg := images.reference_problem(f"executors[{i}].image", ex["image"]):
            yield msg  # never an option of a container engine's command line (docs/security.md)
        if not ex.get("command"):
            yield f"executors[{i}].command must list at least one argument"
        for key in ("workdir", "stdin", "stdout", "stderr"):
            if ex.get(key) is not None and (msg := layout.path_problem(f"executors[{i}].{key}", ex[key])):
                yield msg
    for i, item in enumerate(task.get("inputs") or []):
        if msg := layout.path_problem(f"inputs[{i}].path", item.get("path")):
            yield msg
        if not item.get("url") and item.get("content") is None:
            yield f"inputs[{i}] needs a url or content"
    for i, item in enumerate(task.get("outputs") or []):
        path, field = item.get("path"), f"outputs[{i}].path"
        msg = layout.path_problem(field, path)
        if msg is None and layout.has_wildcard(path):
            msg = layout.prefix_problem(path, item.get("path_prefix"), field=field)
        if msg:
            yield msg
        if not item.get("url"):
            yield f"outputs[{i}].url must not be empty"
    for i, path in enumerate(task.get("volumes") or []):
        if msg := layout.path_problem(f"volumes[{i}]", path):
            yield msg


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
