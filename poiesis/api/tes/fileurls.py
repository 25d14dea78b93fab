"""CreateTask refuses file:// URLs the backend's filers would refuse, before anything runs.

Without this check a task whose output URL lies outside the allowed roots
would run all its executors and only then end SYSTEM_ERROR in the output
filer. The rule is the filer's own (``poiesis.filer.roots``), applied to the
roots the backend reports.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from poiesis.filer import roots


def problems(task: Mapping[str, Any], file_roots: Sequence[Path | str]) -> list[str]:
    """One line per input or output URL outside ``file_roots``; empty when all are allowed."""
    return list(_problems(task, file_roots))


def _problems(task: Mapping[str, Any], file_roots: Sequence[Path | str]) -> Iterator[str]:
    for kind in ("inputs", "outputs"):
        for i, item in enumerate(task.get(kind) or []):
            url = item.get("url") if isinstance(item, Mapping) else None
            if isinstance(url, str) and url and roots.is_file_url(url):
                reason = roots.refusal(url, file_roots)
                if reason:
                    yield f"{kind}[{i}].url {reason}"
