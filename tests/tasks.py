"""Typed tasks for tests: the generated models the server passes between its layers, built from TES documents."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from generated.models import TesExecutor, TesTask
from poiesis.filer.spec import Input, Output, task_files

#: backend_parameters a user could give to jump the queue, leave the sandbox runtime, land on the control plane or
#: hold a node for years (issue 21, finding 7), and the setting that decides each (a time limit is allowed up to
#: POIESIS_MAX_TASK_SECONDS, and a year and a day at most: it only shortens the task's own run)
HOSTILE_PARAMETERS = [
    ({"priority_class": "system-node-critical"}, "POIESIS_KUBE_ALLOWED_PRIORITY_CLASSES"),
    ({"runtime_class": "runc-unconfined"}, "POIESIS_KUBE_ALLOWED_RUNTIME_CLASSES"),
    ({"node_selector": "node-role.kubernetes.io/control-plane="}, "POIESIS_KUBE_ALLOWED_NODE_SELECTORS"),
    ({"Active_Deadline_Seconds": "999999999"}, "POIESIS_MAX_TASK_SECONDS"),
]

#: what a task document without executors gets: TesTask requires the list, and this one adds no path
NOOP_EXECUTOR = {"image": "alpine", "command": ["true"]}


def tes_task(doc: Mapping[str, Any] | TesTask | None = None, /, **members: Any) -> TesTask:
    """The TesTask of a tesTask document (updated by ``members``); one no-op executor when it names none."""
    if isinstance(doc, TesTask):
        return doc
    body = {**(doc or {}), **members}
    body.setdefault("executors", [NOOP_EXECUTOR])
    return TesTask.model_validate(body)


def tes_executor(doc: Mapping[str, Any]) -> TesExecutor:
    """The TesExecutor of a tesExecutor document."""
    return TesExecutor.model_validate(doc)


def inputs_of(doc: Mapping[str, Any]) -> tuple[Input, ...]:
    """A task document's inputs as the filer command reads them from its task file."""
    return task_files(doc).inputs


def outputs_of(doc: Mapping[str, Any]) -> tuple[Output, ...]:
    """A task document's outputs as the filer command reads them from its task file."""
    return task_files(doc).outputs


def paths_task(doc: Mapping[str, Any]) -> TesTask:
    """The TesTask of a document that names only paths: the members layout never reads are filled in.

    Those are each output's url and each executor's image and command (when absent).
    """
    body = dict(doc)
    body["outputs"] = [{"url": "s3://bucket/unused", **o} for o in body.get("outputs") or []] or None
    body["executors"] = [{**NOOP_EXECUTOR, **x} for x in body.get("executors") or []] or [NOOP_EXECUTOR]
    return tes_task({k: v for k, v in body.items() if v is not None})
