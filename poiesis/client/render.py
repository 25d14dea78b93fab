"""What ``poiesis task`` prints: aligned tables for people, JSON for scripts."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Sequence
from typing import Any


def as_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True)


def as_line(value: Any) -> str:
    """JSON on one line (a stream of events, one object a line)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def event_line(event: dict[str, Any]) -> str:
    """One ``watch`` line: when, which task, its new state, its name."""
    return "  ".join(str(part) for part in (event.get("time", "-"), event.get("id"), f"{event.get('state', '-'):<14}",
                                          event.get("name") or "")).rstrip()


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Columns padded to their widest cell; empty cells as ``-``."""
    cells = [[str(c) if c not in (None, "") else "-" for c in row] for row in rows]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]
    lines = [headers, *cells]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=False)).rstrip() for line in lines)


def task_rows(tasks: Iterable[dict[str, Any]]) -> str:
    """The ``list`` table."""
    return table(
        ("ID", "STATE", "NAME", "CREATED"),
        ((t.get("id"), t.get("state"), t.get("name"), t.get("creation_time")) for t in tasks),
    )


def _log(task: dict[str, Any]) -> dict[str, Any]:
    logs = task.get("logs") or [{}]
    return logs[-1]


def task_detail(task: dict[str, Any]) -> str:
    """The ``get`` table: one field a line, one line per executor and output."""
    log = _log(task)
    rows: list[tuple[str, Any]] = [
        ("id", task.get("id")), ("state", task.get("state")), ("name", task.get("name")),
        ("created", task.get("creation_time")), ("started", log.get("start_time")), ("ended", log.get("end_time")),
    ]
    exits = [entry.get("exit_code") for entry in log.get("logs") or []]
    for i, ex in enumerate(task.get("executors") or []):
        code = exits[i] if i < len(exits) else None
        rows.append((f"executor {i}", f"{ex.get('image')} {shlex.join(ex.get('command') or [])}"
                     + ("" if code is None else f"  (exit {code})")))
    for item in task.get("inputs") or []:
        rows.append(("input", f"{item.get('path')} <- {item.get('url') or '(content)'}"))
    for item in task.get("outputs") or []:
        rows.append(("output", f"{item.get('path')} -> {item.get('url')}"))
    for key, value in sorted((task.get("tags") or {}).items()):
        rows.append(("tag", f"{key}={value}"))
    for line in log.get("system_logs") or []:
        rows.append(("system log", line))
    width = max(len(key) for key, _ in rows)
    return "\n".join(f"{key.ljust(width)}  {value if value not in (None, '') else '-'}" for key, value in rows)


def executor_logs(task: dict[str, Any]) -> list[dict[str, Any]]:
    """stdout, stderr and exit code of each executor that ran (last attempt)."""
    return [
        {"index": i, "exit_code": entry.get("exit_code"), "stdout": entry.get("stdout", ""),
         "stderr": entry.get("stderr", "")}
        for i, entry in enumerate(_log(task).get("logs") or [])
    ]


def logs_text(task: dict[str, Any]) -> str:
    """The ``logs`` text: a header per executor and stream, then the stream as recorded."""
    parts = []
    for entry in executor_logs(task):
        for stream in ("stdout", "stderr"):
            text = entry[stream] or ""
            parts.append(f"==> executor {entry['index']} {stream} (exit {entry['exit_code']}) <==\n{text}"
                         + ("" if not text or text.endswith("\n") else "\n"))
    return "".join(parts)
