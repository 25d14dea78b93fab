"""tesTask documents from command-line words (``task run``) and from task files (``task create -f``)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml


class SpecError(ValueError):
    """A word or file that does not make a task."""


def pair(word: str, *, what: str) -> tuple[str, str]:
    """``LEFT=RIGHT`` split at the first ``=``."""
    left, sep, right = word.partition("=")
    if not sep or not left:
        raise SpecError(f"{what} must be LEFT=RIGHT, got {word!r}")
    return left, right


def location(url: str) -> str:
    """A URL as given, or a local path (no scheme) as an absolute file:// URL."""
    if "://" in url:
        return url
    return "file://" + os.path.abspath(os.path.expanduser(url))


def run_task(  # one argument per command-line option
    image: str,
    command: Sequence[str],
    *,
    name: str | None = None,
    inputs: Sequence[str] = (),
    outputs: Sequence[str] = (),
    env: Sequence[str] = (),
    tags: Sequence[str] = (),
    workdir: str | None = None,
) -> dict[str, Any]:
    """The task ``poiesis task run`` sends: one executor, ``--input/--output PATH=URL`` files."""
    if not command:
        raise SpecError("no command: give it after --, e.g. poiesis task run alpine -- echo hello")
    executor: dict[str, Any] = {"image": image, "command": list(command)}
    if env:
        executor["env"] = dict(pair(word, what="--env") for word in env)
    if workdir:
        executor["workdir"] = workdir
    task: dict[str, Any] = {"executors": [executor]}
    if name:
        task["name"] = name
    if inputs:
        task["inputs"] = [{"path": path, "url": location(url)} for path, url in (pair(w, what="--input") for w in inputs)]
    if outputs:
        task["outputs"] = [{"path": path, "url": location(url)} for path, url in (pair(w, what="--output") for w in outputs)]
    if tags:
        task["tags"] = dict(pair(word, what="--tag") for word in tags)
    return task


def load_task(path: str) -> dict[str, Any]:
    """A task from a JSON or YAML file (``-`` reads standard input)."""
    import sys

    text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    try:
        task = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise SpecError(f"{path}: not valid JSON/YAML: {exc}") from exc
    if not isinstance(task, dict):
        raise SpecError(f"{path}: a task file must hold one object (a tesTask)")
    return task
