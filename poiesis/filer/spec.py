"""What the filers read of a task: its inputs and outputs, as typed values.

``fetch_inputs`` and ``upload_outputs`` take any values with the attributes
of ``InputSpec`` / ``OutputSpec``. The local backend hands them the parts of
the generated ``TesTask`` it already holds (``TesInput``, ``TesOutput``). The
filer command in a Pod (tif, tof) reads its task file once into the frozen
``Input`` / ``Output`` below instead of the generated models: importing those
(pydantic building its validators) would add about 0.25 s of CPU to every
tif and tof start, twice per task, for a file the API wrote from a validated
model.
Only the members the filers use are read; the rest of the file is ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from poiesis.filer.errors import FilerError


class InputSpec(Protocol):
    """A tesInput as the input filer reads it."""

    @property
    def name(self) -> str | None: ...
    @property
    def url(self) -> str | None: ...
    @property
    def path(self) -> str: ...
    @property
    def type(self) -> str | None: ...
    @property
    def content(self) -> str | None: ...


class OutputSpec(Protocol):
    """A tesOutput as the output filer reads it."""

    @property
    def name(self) -> str | None: ...
    @property
    def url(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def path_prefix(self) -> str | None: ...
    @property
    def type(self) -> str | None: ...


@dataclass(frozen=True)
class Input:
    """A tesInput read from the task file."""

    path: str
    url: str | None = None
    name: str | None = None
    type: str | None = None
    content: str | None = None


@dataclass(frozen=True)
class Output:
    """A tesOutput read from the task file."""

    url: str
    path: str
    name: str | None = None
    path_prefix: str | None = None
    type: str | None = None


@dataclass(frozen=True)
class TaskFiles:
    """The inputs and outputs of the task file."""

    inputs: tuple[Input, ...] = ()
    outputs: tuple[Output, ...] = ()


def task_files(task: Mapping[str, Any]) -> TaskFiles:
    """The inputs and outputs of a tesTask JSON object; FilerError naming the first member that is wrong."""
    return TaskFiles(
        inputs=tuple(_input(_object(x, f"inputs[{i}]"), f"inputs[{i}]") for i, x in enumerate(_list(task, "inputs"))),
        outputs=tuple(
            _output(_object(x, f"outputs[{i}]"), f"outputs[{i}]") for i, x in enumerate(_list(task, "outputs"))
        ),
    )


def _input(item: Mapping[str, Any], where: str) -> Input:
    return Input(
        path=_required(item, where, "path"), url=_optional(item, where, "url"), name=_optional(item, where, "name"),
        type=_optional(item, where, "type"), content=_optional(item, where, "content"),
    )


def _output(item: Mapping[str, Any], where: str) -> Output:
    return Output(
        url=_required(item, where, "url"), path=_required(item, where, "path"), name=_optional(item, where, "name"),
        path_prefix=_optional(item, where, "path_prefix"), type=_optional(item, where, "type"),
    )


def _list(task: Mapping[str, Any], key: str) -> list[Any]:
    items = task.get(key)
    if items is None:
        return []
    if not isinstance(items, list):
        raise FilerError(f"{key} is not a list")
    return items


def _object(item: object, where: str) -> Mapping[str, Any]:
    if not isinstance(item, dict):
        raise FilerError(f"{where} is not a JSON object")
    return item


def _optional(item: Mapping[str, Any], where: str, key: str) -> str | None:
    value = item.get(key)
    if value is not None and not isinstance(value, str):
        raise FilerError(f"{where}.{key} is not a string")
    return value


def _required(item: Mapping[str, Any], where: str, key: str) -> str:
    value = _optional(item, where, key)
    if value is None:
        raise FilerError(f"{where}.{key} is missing")
    return value
