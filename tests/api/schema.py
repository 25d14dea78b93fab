"""Checks a response body against the OpenAPI schema as a strict client would.

Strict clients (py-tes 1.1.4) reject keys the schema does not define and
null enum values, so this walks the schema and fails on both, as well as on
missing required keys and wrong JSON types.
"""

from __future__ import annotations

from typing import Any

import yaml

from poiesis.api.app import spec_path

_SPEC = yaml.safe_load(spec_path().read_text())
_TYPES = {"string": str, "integer": int, "number": (int, float), "boolean": bool, "array": list, "object": dict}


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = _SPEC["components"]["schemas"][name]
    if "allOf" in schema:
        merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
        for part in schema["allOf"]:
            part = _resolve(part)
            merged["properties"].update(part.get("properties", {}))
            merged["required"] += part.get("required", [])
        return merged
    return schema


def conforms(value: Any, schema_name: str, *, minimal: bool = False) -> None:
    """Raise AssertionError naming the path where ``value`` breaks the named schema.

    ``minimal``: a MINIMAL-view task, which the spec lets omit required fields.
    """
    _check(value, {"$ref": f"#/components/schemas/{schema_name}"}, schema_name, minimal=minimal)


def _check(value: Any, schema: dict[str, Any], path: str, *, minimal: bool = False) -> None:
    schema = _resolve(schema)
    assert value is not None, f"{path} is null"
    kind = schema.get("type", "object" if "properties" in schema else None)
    if kind:
        assert isinstance(value, _TYPES[kind]) and not (kind in ("integer", "number") and isinstance(value, bool)), (
            f"{path}: {value!r} is not {kind}"
        )
    if "enum" in schema:
        assert value in schema["enum"], f"{path}: {value!r} not in {schema['enum']}"
    if kind == "array":
        for i, item in enumerate(value):
            _check(item, schema.get("items", {}), f"{path}[{i}]")
    if kind == "object":
        props = schema.get("properties")
        for key in [] if minimal else schema.get("required", []):
            assert key in value, f"{path}.{key} is required"
        for key, item in value.items():
            if props is not None and "additionalProperties" not in schema:
                assert key in props, f"{path}.{key} is not in the schema"
                _check(item, props[key], f"{path}.{key}")
            elif isinstance(schema.get("additionalProperties"), dict):
                _check(item, schema["additionalProperties"], f"{path}.{key}")
