"""CreateTask bodies whose unset members are JSON ``null``: null optional members count as absent.

Some clients (pydantic-tes) send every optional member of a task as
``null``. TES gives null no meaning, so before Connexion validates a body
against openapi/, every ``null`` held by a member the schema does not
require is removed, at any depth the schema describes (task, executors,
inputs, outputs, resources, logs...). A ``null`` where the schema requires a
value, inside an array, or as a value of a map (``tags``, ``env``) stays,
and validation refuses it as before. ``strip_optional_nulls`` is pure;
``NullTolerantBodyValidator`` applies it as Connexion's body validator.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from typing import Any, ClassVar

from connexion.validators import JSONRequestBodyValidator
from starlette.types import Scope

from poiesis.api import document


def _resolve(schema: Mapping[str, Any], schemas: Mapping[str, Any]) -> Mapping[str, Any]:
    """The schema behind ``$ref``s, with an ``allOf`` merged into one object schema."""
    seen = 0
    while "$ref" in schema and seen < 32:
        schema = schemas.get(schema["$ref"].rsplit("/", 1)[-1], {})
        seen += 1
    if "allOf" in schema:
        properties: dict[str, Any] = dict(schema.get("properties") or {})
        required: list[str] = list(schema.get("required") or [])
        for part in schema["allOf"]:
            part = _resolve(part, schemas)
            properties.update(part.get("properties") or {})
            required += part.get("required") or []
        return {"type": "object", "properties": properties, "required": required}
    return schema


def strip_optional_nulls(value: Any, schema: Mapping[str, Any], schemas: Mapping[str, Any]) -> Any:
    """``value`` without the null members that ``schema`` does not require (a new object)."""
    schema = _resolve(schema, schemas)
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        required = set(schema.get("required") or [])
        extra = schema.get("additionalProperties")
        out = {}
        for key, item in value.items():
            if key in properties:
                if item is None and key not in required:
                    continue
                out[key] = strip_optional_nulls(item, properties[key], schemas)
            elif isinstance(extra, Mapping) and item is not None:
                out[key] = strip_optional_nulls(item, extra, schemas)
            else:
                out[key] = item
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [
            item if item is None else strip_optional_nulls(item, schema["items"], schemas)
            for item in value
        ]
    return value


class NullTolerantBodyValidator(JSONRequestBodyValidator):
    """Connexion's JSON body validation, after ``strip_optional_nulls``; the stripped body goes on.

    Connexion builds a validator per request; the compiled jsonschema validator of each operation's
    schema is kept instead of being built again for every request, and a body the guard already
    parsed (``PARSED_KEY`` in the scope's state) is not parsed a second time.
    """

    MUTABLE_VALIDATION = True
    _compiled: ClassVar[dict[int, tuple[Mapping[str, Any], Any]]] = {}

    @property
    def _validator(self) -> Any:
        found = self._compiled.get(id(self._schema))
        if found is None or found[0] is not self._schema:
            if len(self._compiled) >= _MAX_COMPILED:  # one per operation and media type is expected
                self._compiled.clear()
            found = (self._schema, JSONRequestBodyValidator._validator.fget(self))  # noqa: SLF001 - Connexion compiles it in a private property
            self._compiled[id(self._schema)] = found
        return found[1]

    async def _parse(self, stream: AsyncGenerator[bytes, None], scope: Scope) -> Any:
        parsed = (scope.get("state") or {}).pop(PARSED_KEY, _NOTHING)
        if parsed is _NOTHING:
            body = await super()._parse(stream, scope)
        else:
            async for _ in stream:  # the guard's replayed body: consumed, not parsed again
                pass
            body = parsed
        return strip_optional_nulls(body, self._schema, document.component_schemas())


#: Bound of the compiled-validator cache (Connexion 3.3 hands the same schema object on every request).
_MAX_COMPILED = 64
#: Key in the ASGI scope's ``state`` under which the guard leaves the JSON body it parsed.
PARSED_KEY = "poiesis.parsed_body"
_NOTHING = object()
