"""CreateTask bodies whose unset members are JSON ``null``: null optional members count as absent.

Some clients (pydantic-tes) send every optional member of a task as
``null``. TES gives null no meaning, so before Connexion validates a body
against openapi/, every ``null`` held by a member the schema does not
require is removed, at any depth the schema describes (task, executors,
inputs, outputs, resources, logs...). A ``null`` where the schema requires a
value, inside an array, or as a value of a map (``tags``, ``env``) stays,
and validation refuses it as before. ``strip_optional_nulls`` is pure;
``NullTolerantBodyValidator`` applies it as Connexion's body validator.

That validator is also the body's fast path: a body the compiled validator
(jsonschema-rs, built once per schema) finds valid is not validated again
in Python; any other body goes through Connexion's own jsonschema
validation, so every refusal keeps Connexion's answer and message word for
word. The validated body is left in the request's scope
(``validated_body``) for the operation, instead of being encoded again and
parsed a third time on its way to the handler.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import AsyncGenerator, Mapping
from typing import Any, ClassVar

import jsonschema_rs
from connexion.validators import JSONRequestBodyValidator
from starlette.types import Scope

from poiesis.api import document

log = logging.getLogger(__name__)


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


def fast_validator(schema: Mapping[str, Any]) -> Any:
    """A compiled (jsonschema-rs, Draft 4, formats checked) validator of ``schema``, or None if it cannot be built.

    Used only to pass valid bodies quickly: it may refuse more than Connexion's validator
    (``nullable``, formats), never less for the TES schema (tests/api/test_body_validation.py).
    """
    try:
        # YAML turns an example's timestamp into a datetime; as JSON text it means the same to a validator
        plain = json.loads(json.dumps(schema, default=str))
        return jsonschema_rs.Draft4Validator(plain, validate_formats=True)
    except (ValueError, TypeError, jsonschema_rs.ValidationError) as exc:  # a schema it cannot take: Python only
        log.warning("no compiled body validator for this schema (%s); validating in Python", exc)
        return None


def validated_body() -> Any:
    """The body ``NullTolerantBodyValidator`` validated for the request Connexion is handling now (None if none)."""
    from connexion.context import _scope  # the ContextVar behind connexion.context.scope

    return (_scope.get().get("state") or {}).get(VALIDATED_KEY)


class NullTolerantBodyValidator(JSONRequestBodyValidator):
    """Connexion's JSON body validation, after ``strip_optional_nulls``, with a compiled fast path.

    Connexion builds a validator per request; the validators of each operation's schema are
    built once and kept, and a body the guard already parsed (``PARSED_KEY`` in the scope's
    state) is not parsed a second time. The stripped body is left under ``VALIDATED_KEY``.
    """

    _compiled: ClassVar[dict[int, tuple[Mapping[str, Any], Any, Any]]] = {}
    #: The TES version whose document's schemas the body is read against (``of``).
    version: ClassVar[str] = document.DEFAULT_VERSION

    @classmethod
    @functools.cache
    def of(cls, version: str) -> type[NullTolerantBodyValidator]:
        """This validator for the document of TES ``version`` (one class per version)."""
        return type(f"{cls.__name__}_{version.replace('.', '_')}", (cls,), {"version": version})

    def _validators(self) -> tuple[Mapping[str, Any], Any, Any]:
        found = self._compiled.get(id(self._schema))
        if found is None or found[0] is not self._schema:
            if len(self._compiled) >= _MAX_COMPILED:  # one per operation and media type is expected
                self._compiled.clear()
            found = (self._schema, JSONRequestBodyValidator._validator.fget(self),  # noqa: SLF001 - Connexion compiles it in a private property
                     fast_validator(self._schema))
            self._compiled[id(self._schema)] = found
        return found

    @property
    def _validator(self) -> Any:
        return self._validators()[1]

    def _validate(self, body: Any) -> dict | None:
        fast = self._validators()[2]
        if body is not None and fast is not None and fast.is_valid(body):
            return None
        return super()._validate(body)

    async def _parse(self, stream: AsyncGenerator[bytes, None], scope: Scope) -> Any:
        parsed = (scope.get("state") or {}).pop(PARSED_KEY, _NOTHING)
        if parsed is _NOTHING:
            body = await super()._parse(stream, scope)
        else:
            async for _ in stream:  # the guard's replayed body: consumed, not parsed again
                pass
            body = parsed
        body = strip_optional_nulls(body, self._schema, document.component_schemas(self.version))
        scope.setdefault("state", {})[VALIDATED_KEY] = body
        return body


#: Bound of the compiled-validator cache (Connexion 3.3 hands the same schema object on every request).
_MAX_COMPILED = 64
#: Key in the ASGI scope's ``state`` under which the guard leaves the JSON body it parsed.
PARSED_KEY = "poiesis.parsed_body"
#: Key under which the validator leaves the body it validated (nulls stripped) for the operation.
VALIDATED_KEY = "poiesis.validated_body"
_NOTHING = object()
