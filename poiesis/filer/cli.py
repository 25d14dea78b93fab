"""``filer in|out --task FILE --root DIR [--termination-log F]``: the pod contract.

Exit 0 on success. On failure exit 1 after writing one sanitized line to
stderr (``filer in: REASON``) and the reason alone to the termination log, which
``kube.outcome`` turns into the same system log line the local backend writes
(``lifecycle.filer_failed``). ``out`` writes ``DIR/.poiesis/outputs.json``
(the output file logs) and ``DIR/.poiesis/output_types.json`` (the type of
each output, in task order) only after every upload succeeded.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from poiesis import layout
from poiesis.config.filer import FilerConfig
from poiesis.filer.errors import FilerError, hide, one_line, redact
from poiesis.filer.inputs import fetch_inputs
from poiesis.filer.outputs import output_types, upload_outputs
from poiesis.filer.spec import TaskFiles, task_files
from poiesis.lifecycle import FILER_FAILED_EXIT

DEFAULT_TERMINATION_LOG = Path("/dev/termination-log")
log = logging.getLogger("poiesis.filer")


def main(argv: list[str], config: FilerConfig) -> int:
    """Run ``filer in`` or ``filer out`` with ``config`` (the settings' ``filer`` section); return the exit code."""
    hide(config.secrets)
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s filer %(levelname)s %(message)s")
    termination_log = _termination_log(args.termination_log)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        task = _read_task(Path(args.task))
        run(args.direction, task=task, root=Path(args.root), config=config)
    except FilerError as exc:
        return _fail(args.direction, str(exc), termination_log)
    except Exception as exc:
        log.exception("unexpected failure")
        return _fail(args.direction, f"internal error: {type(exc).__name__}: {exc}", termination_log)
    return 0


def run(direction: str, *, task: TaskFiles, root: Path, config: FilerConfig) -> None:
    """Fetch inputs (``in``) or upload outputs and write the result files (``out``)."""
    if direction == "in":
        fetch_inputs(task.inputs, root=root, config=config)
        return
    logs = upload_outputs(task.outputs, root=root, config=config)
    write_json_atomic(layout.output_types_file(root), output_types(task.outputs, root=root))
    write_json_atomic(layout.outputs_file(root), logs)


def write_json_atomic(path: Path, value: Any) -> None:
    """Write ``value`` as JSON to ``path`` through a temp file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(value, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def _on_sigterm(_signum: int, _frame: object) -> None:
    """Turn SIGTERM into a failure, so temp files are removed and multipart uploads aborted."""
    raise FilerError("terminated by SIGTERM")


def _read_task(path: Path) -> TaskFiles:
    """The task file's inputs and outputs, read once (``filer.spec``)."""
    try:
        task = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FilerError(f"cannot read the task file {path}: {type(exc).__name__}") from exc
    if not isinstance(task, dict):
        raise FilerError(f"the task file {path} does not hold a JSON object")
    try:
        return task_files(task)
    except FilerError as exc:
        raise FilerError(f"the task file {path}: {exc}") from exc


def _fail(direction: str, reason: str, termination_log: Path | None) -> int:
    line = one_line(redact(reason))
    print(f"filer {direction}: {line}", file=sys.stderr, flush=True)
    if termination_log is not None:
        try:
            termination_log.write_text(line + "\n", encoding="utf-8")
        except OSError:
            log.warning("could not write the termination log %s", termination_log)
    return FILER_FAILED_EXIT


def _termination_log(given: str | None) -> Path | None:
    if given:
        return Path(given)
    return DEFAULT_TERMINATION_LOG if DEFAULT_TERMINATION_LOG.exists() else None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="poiesis filer", description="Task input/output filer (TIF/TOF).")
    parser.add_argument("direction", choices=("in", "out"), help="in: fetch inputs; out: upload outputs")
    parser.add_argument("--task", required=True, help="the task as JSON (TES tesTask, FULL view)")
    parser.add_argument("--root", required=True, help="the shared volume; TES path P lives at ROOT/files/P")
    parser.add_argument("--termination-log", help="file for the one-line failure reason")
    return parser

