"""Bounds a task document must respect beyond the schema: pure.

Counts of executors, inputs, outputs, volumes and tags, the size of inline
input content (each message names the limit's setting), and the integer
ranges the OpenAPI ``format`` promises (int32, int64), which JSON Schema
validation does not enforce.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import jsonschema_rs

from poiesis.config.security import Limits

INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


def problems(task: Mapping[str, Any], limits: Limits) -> list[str]:
    """Every limit the task exceeds, each naming the field and the setting."""
    return list(_problems(task, limits))


def _problems(task: Mapping[str, Any], limits: Limits) -> Iterator[str]:
    for key, limit, setting in (
        ("executors", limits.executors, "executors"),
        ("inputs", limits.inputs, "inputs"),
        ("outputs", limits.outputs, "outputs"),
        ("volumes", limits.volumes, "volumes"),
        ("tags", limits.tags, "tags"),
    ):
        value = task.get(key)
        if isinstance(value, list | dict) and len(value) > limit:
            yield f"{key}: {len(value)} given, at most {limit} allowed (limit {setting}, POIESIS_LIMIT_{setting.upper()})"
    for i, item in enumerate(task.get("inputs") or []):
        content = item.get("content") if isinstance(item, Mapping) else None
        if isinstance(content, str) and len(content.encode("utf-8")) > limits.content_bytes:
            yield (f"inputs[{i}].content: larger than {limits.content_bytes} bytes"
                   " (limit content_bytes, POIESIS_LIMIT_CONTENT_BYTES)")


def integer_problems(value: Any, schema: Mapping[str, Any], components: Mapping[str, Any], path: str = "") -> list[str]:
    """Integers outside the range of their schema's ``format`` (int32/int64), walking the schema.

    A value that the compiled validator of the same schema with those ranges as bounds finds
    valid has no such integer, and is not walked (the walk is what names the field).
    """
    bounded = _bounded_validator(json.dumps(schema, sort_keys=True), components)
    if bounded is not None and bounded.is_valid(value):
        return []
    found: list[str] = []
    _walk(value, schema, components, path, found, depth=0)
    return found


def with_integer_bounds(schema: Any) -> Any:
    """A copy of ``schema`` where every int32/int64 ``format`` also carries its range as minimum/maximum: pure."""
    if isinstance(schema, Mapping):
        copy = {key: with_integer_bounds(item) for key, item in schema.items()}
        bounds = INT_RANGES.get(schema.get("format", "")) if isinstance(schema.get("format"), str) else None
        if bounds:
            copy["minimum"], copy["maximum"] = bounds
        return copy
    if isinstance(schema, list):
        return [with_integer_bounds(item) for item in schema]
    return schema


#: (schema as JSON, id of the components) -> (the components, their bounded validator or None)
_BOUNDED: dict[tuple[str, int], tuple[Mapping[str, Any], Any]] = {}


def _bounded_validator(schema_json: str, components: Mapping[str, Any]) -> Any:
    """jsonschema-rs for ``schema`` (refs into ``components``) with the integer bounds, built once; None if it cannot be."""
    key = (schema_json, id(components))
    known = _BOUNDED.get(key)
    if known is None or known[0] is not components:
        root = {**json.loads(schema_json), "components": {"schemas": with_integer_bounds(components)}}
        try:
            validator = jsonschema_rs.Draft4Validator(json.loads(json.dumps(root, default=str)))
        except (ValueError, TypeError, jsonschema_rs.ValidationError):
            validator = None
        if len(_BOUNDED) >= 16:
            _BOUNDED.clear()
        known = _BOUNDED[key] = (components, validator)
    return known[1]


def _resolve(schema: Mapping[str, Any], components: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _walk(value: Any, schema: Mapping[str, Any], components: Mapping[str, Any], path: str,
          found: list[str], depth: int) -> None:
    if depth > 64:
        return
    schema = _resolve(schema, components)
    for part in schema.get("allOf", []):
        _walk(value, part, components, path, found, depth + 1)
    bounds = INT_RANGES.get(schema.get("format", ""))
    if bounds and isinstance(value, int) and not isinstance(value, bool) and not bounds[0] <= value <= bounds[1]:
        found.append(f"{path.lstrip('.')}: {value} is outside the {schema['format']} range")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            sub = props.get(key, extra if isinstance(extra, dict) else None)
            if sub is not None:
                _walk(item, sub, components, f"{path}.{key}", found, depth + 1)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            _walk(item, schema["items"], components, f"{path}[{i}]", found, depth + 1)
