"""The compiled fast path of CreateTask's body validation accepts exactly what Connexion's validator accepts.

``NullTolerantBodyValidator`` lets a body through when jsonschema-rs finds it
valid and sends every other body to Connexion's own validator, which writes
the refusal. So the fast path must never accept a body Connexion refuses;
here both judge the bodies schemathesis generates from openapi/ for
CreateTask, positive and negative, after the same null stripping, for the
document of each TES version (1.1's integer cores, 1.2's numbers).
"""

from __future__ import annotations

import functools
import json

import pytest
import schemathesis
from connexion.json_schema import Draft4RequestValidator, resolve_refs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft4Validator

from poiesis.api import document
from poiesis.api.hardening import limits, nulls
from poiesis.config import TES_VERSIONS

_SPEC = json.loads(json.dumps(document.spec(), default=str))
_CREATE = schemathesis.openapi.from_dict(_SPEC)["/tasks"]["POST"]
_SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@functools.cache
def _validators(version: str) -> tuple[object, object, object]:
    """(the CreateTask body schema, Connexion's validator, the compiled one) of TES ``version``'s document."""
    schema = resolve_refs(document.spec(version))["paths"]["/tasks"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return schema, Draft4RequestValidator(schema, format_checker=Draft4Validator.FORMAT_CHECKER), nulls.fast_validator(schema)


def _judge(body: object, version: str = "1.1") -> tuple[bool, bool]:
    schema, python, fast = _validators(version)
    body = nulls.strip_optional_nulls(body, schema, document.component_schemas(version))
    return fast.is_valid(body), python.is_valid(body)  # type: ignore[attr-defined]


@pytest.mark.parametrize("version", TES_VERSIONS)
def test_the_fast_validator_is_built_for_the_task_schema(version: str) -> None:
    """The TES task schema compiles (else every body would take the slow path unnoticed)."""
    assert _validators(version)[2] is not None


@pytest.mark.parametrize("version", TES_VERSIONS)
@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_fast_and_connexion_validators_agree_on_generated_bodies(mode: str, version: str) -> None:
    """On every generated body both validators give the same verdict; some of each verdict are seen."""
    verdicts: list[bool] = []
    create = schemathesis.openapi.from_dict(json.loads(json.dumps(document.spec(version), default=str)))["/tasks"]["POST"]
    strategy = create.as_strategy(generation_mode=schemathesis.GenerationMode(mode))

    @_SETTINGS
    @given(strategy)
    def check(case: object) -> None:
        try:  # what a client can send as JSON (a negative case may be bytes of another media type)
            body = json.loads(json.dumps(case.body, allow_nan=False))  # type: ignore[attr-defined]
        except (TypeError, ValueError):
            return
        fast, python = _judge(body, version)
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
    ({"executors": [{"image": "a", "command": ["true"]}], "resources": {"cpu_cores": "1"}}, False),
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


@pytest.mark.parametrize(("cores", "valid"), [(0.5, True), (1.0, True), (4, True), (1e300, True), (True, False),
                                              ("0.5", False), (None, True), ([1], False)])
def test_fast_and_connexion_validators_agree_on_tes_1_2_cores(cores: object, valid: bool) -> None:
    """1.2's number/double cores: fractions, whole floats, integers; never a boolean or a string (null is absent)."""
    body = {"executors": [{"image": "a", "command": ["true"]}], "resources": {"cpu_cores": cores, "ram_gb": 0.1}}
    assert _judge(body, "1.2") == (valid, valid)


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
