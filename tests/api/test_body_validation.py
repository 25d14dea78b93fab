"""The compiled fast path of CreateTask's body validation accepts exactly what Connexion's validator accepts.

``NullTolerantBodyValidator`` lets a body through when jsonschema-rs finds it
valid and sends every other body to Connexion's own validator, which writes
the refusal. So the fast path must never accept a body Connexion refuses;
here both judge the bodies schemathesis generates from openapi/ for
CreateTask, positive and negative, after the same null stripping.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from connexion.json_schema import Draft4RequestValidator, resolve_refs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft4Validator

from poiesis.api import document
from poiesis.api.hardening import limits, nulls

_SPEC = json.loads(json.dumps(document.spec(), default=str))
_SCHEMA = resolve_refs(document.spec())["paths"]["/tasks"]["post"]["requestBody"]["content"]["application/json"]["schema"]
_PYTHON = Draft4RequestValidator(_SCHEMA, format_checker=Draft4Validator.FORMAT_CHECKER)
_FAST = nulls.fast_validator(_SCHEMA)
_CREATE = schemathesis.openapi.from_dict(_SPEC)["/tasks"]["POST"]
_SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def _judge(body: object) -> tuple[bool, bool]:
    body = nulls.strip_optional_nulls(body, _SCHEMA, document.component_schemas())
    return _FAST.is_valid(body), _PYTHON.is_valid(body)


def test_the_fast_validator_is_built_for_the_task_schema() -> None:
    """The TES task schema compiles (else every body would take the slow path unnoticed)."""
    assert _FAST is not None


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_fast_and_connexion_validators_agree_on_generated_bodies(mode: str) -> None:
    """On every generated body both validators give the same verdict; some of each verdict are seen."""
    verdicts: list[bool] = []
    strategy = _CREATE.as_strategy(generation_mode=schemathesis.GenerationMode(mode))

    @_SETTINGS
    @given(strategy)
    def check(case: object) -> None:
        try:  # what a client can send as JSON (a negative case may be bytes of another media type)
            body = json.loads(json.dumps(case.body, allow_nan=False))  # type: ignore[attr-defined]
        except (TypeError, ValueError):
            return
        fast, python = _judge(body)
        assert fast == python, (body, fast, python)
        verdicts.append(python)

    check()
    assert verdicts, "no body was generated"
    if mode == "negative":
        assert not all(verdicts), "no generated body was invalid: the check proves nothing"
    else:
        assert any(verdicts), "no generated body was valid: the fast path was never taken"


@pytest.mark.parametrize(("body", "valid"), [
    ({"executors": [{"image": "a", "command": ["true"]}]}, True),
    ({"executors": [{"image": "a", "command": ["true"]}], "resources": {"cpu_cores": 1.0}}, False),  # 1.0 is no integer
    ({"executors": [{"image": "a", "command": ["true"]}], "resources": {"cpu_cores": True}}, False),
    ({"executors": [{"image": "a", "command": "true"}]}, False),
    ({"executors": [{"image": "a", "command": ["true"]}], "inputs": [{"type": "LINK", "path": "/a"}]}, False),
    ({"executors": [{"image": "a", "command": ["true"]}], "tags": {"k": 1}}, False),
    ({"executors": [{"image": "a", "command": ["true"]}], "volumes": "/v"}, False),
    ({}, False),
])
def test_fast_and_connexion_validators_agree_on_edges(body: dict, valid: bool) -> None:
    """Integers, booleans, enums, maps and required members: the cases where JSON Schema engines differ."""
    assert _judge(body) == (valid, valid)


def _walked(body: object) -> list[str]:
    found: list[str] = []
    limits._walk(body, {"$ref": "#/components/schemas/tesTask"}, document.component_schemas(), "", found, depth=0)  # noqa: SLF001 - the walk itself
    return found


@_SETTINGS
@given(_CREATE.as_strategy(), st.integers(-(2**70), 2**70))
def test_integer_ranges_fast_path_finds_what_the_walk_finds(case: object, wide: int) -> None:
    """The compiled range check skips the walk only where the walk finds no integer out of its format's range."""
    body = json.loads(json.dumps(case.body))  # type: ignore[attr-defined]
    if isinstance(body, dict) and isinstance(body.get("resources"), dict):
        body["resources"]["cpu_cores"] = wide
    assert limits.integer_problems(body, {"$ref": "#/components/schemas/tesTask"},
                                   document.component_schemas()) == _walked(body)
