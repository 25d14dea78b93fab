"""Checks a response body against the OpenAPI schema as a strict client would.

Strict clients (py-tes 1.1.4) reject keys the schema does not define and
null enum values, so this walks the schema and fails on both, as well as on
missing required keys and wrong JSON types. Against TES 1.1's document unless
``version`` says otherwise: 1.2's schemas take everything 1.1's do (integer
cores are numbers), so a body that conforms to 1.1 conforms to both, and
checks that a 1.2 server keeps whole cores integers.
"""

from __future__ import annotations

from typing import Any

import yaml

from poiesis.api.app import spec_path
from poiesis.config import TES_VERSIONS

_SPECS = {version: yaml.safe_load(spec_path(version).read_text()) for version in TES_VERSIONS}
_TYPES = {"string": str, "integer": int, "number": (int, float), "boolean": bool, "array": list, "object": dict}


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    if "allOf" in schema:
        merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
        for part in schema["allOf"]:
            part = _resolve(part, spec)
            merged["properties"].update(part.get("properties", {}))
            merged["required"] += part.get("required", [])
        return merged
    return schema


def conforms(value: Any, schema_name: str, *, minimal: bool = False, version: str = "1.1") -> None:
    """Raise AssertionError naming the path where ``value`` breaks the named schema of TES ``version``.

    ``minimal``: a MINIMAL-view task, which the spec lets omit required fields.
    """
    _check(value, {"$ref": f"#/components/schemas/{schema_name}"}, schema_name, _SPECS[version], minimal=minimal)


def _check(value: Any, schema: dict[str, Any], path: str, spec: dict[str, Any], *, minimal: bool = False) -> None:
    schema = _resolve(schema, spec)
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
            _check(item, schema.get("items", {}), f"{path}[{i}]", spec)
    if kind == "object":
        props = schema.get("properties")
        for key in [] if minimal else schema.get("required", []):
            assert key in value, f"{path}.{key} is required"
        for key, item in value.items():
            if props is not None and "additionalProperties" not in schema:
                assert key in props, f"{path}.{key} is not in the schema"
                _check(item, props[key], f"{path}.{key}", spec)
            elif isinstance(schema.get("additionalProperties"), dict):
                _check(item, schema["additionalProperties"], f"{path}.{key}", spec)
