"""Log lines: plain text or one JSON object a line (POIESIS_LOG_FORMAT=json, the settings' ``logging.format``), with the task id.

``task(task_id)`` marks the code that works on one task (a handler, a
recorder write, a controller action, a whole TRec process): every line
logged inside carries ``task_id``, in JSON as a field and in text as a
``[task ID]`` prefix. A line may also pass ``extra={"task_id": ...}``.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

_TASK: contextvars.ContextVar[str | None] = contextvars.ContextVar("poiesis_task_id", default=None)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(task_prefix)s%(message)s"


@contextlib.contextmanager
def task(task_id: str | None) -> Iterator[None]:
    """Every line logged inside (in this thread or task) names ``task_id``."""
    token = _TASK.set(task_id)
    try:
        yield
    finally:
        _TASK.reset(token)


_PROCESS_TASK: str | None = None


def set_process_task(task_id: str | None) -> None:
    """Name ``task_id`` on every later line of this process, in every thread (TRec: one process per task)."""
    global _PROCESS_TASK  # noqa: PLW0603 - set once at start
    _PROCESS_TASK = task_id


def current_task() -> str | None:
    return _TASK.get() or _PROCESS_TASK


class TaskFilter(logging.Filter):
    """Puts ``task_id`` (and ``task_prefix`` for the text format) on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        task_id = getattr(record, "task_id", None) or current_task()
        record.task_id = task_id
        record.task_prefix = f"[task {task_id}] " if task_id else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, task_id when known, exception text."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        task_id = getattr(record, "task_id", None) or current_task()
        if task_id:
            line["task_id"] = task_id
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def formatter(fmt: str) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT)


def configure(level: int = logging.INFO, fmt: str = "text") -> None:
    """Root logging to stderr in format ``fmt`` (``text`` or ``json``), every record stamped with the task id."""
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(fmt))
    handler.addFilter(TaskFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)  # Python warnings become log lines in the same format


def uvicorn_log_config(fmt: str) -> dict[str, Any]:
    """uvicorn's logging config: its error and access lines in the same format as ours."""
    factory = "poiesis.logs.JsonFormatter" if fmt == "json" else "logging.Formatter"
    formatter_cfg: dict[str, Any] = {"()": factory}
    if fmt != "json":
        formatter_cfg["fmt"] = TEXT_FORMAT
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"task": {"()": "poiesis.logs.TaskFilter"}},
        "formatters": {"default": formatter_cfg},
        "handlers": {"default": {"class": "logging.StreamHandler", "formatter": "default", "filters": ["task"],
                                 "stream": "ext://sys.stderr"}},
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": ["default"], "level": "INFO", "propagate": False},
        },
        "root": {"handlers": ["default"], "level": "INFO"},
    }
