"""The parameter check keeps one compiled validator per parameter and answers exactly as Connexion's does."""

from __future__ import annotations

import pytest
from connexion.spec import Specification
from connexion.validators import ParameterValidator

from poiesis.api import document
from poiesis.api.hardening import parameters


def _parameters() -> dict[str, dict]:
    """Every parameter of the served document as Connexion resolves it, by name (ListTasks and GetTask share view)."""
    found: dict[str, dict] = {}
    for path in Specification.load(document.spec_path())["paths"].values():
        for operation in path.values():
            for param in operation.get("parameters", []) if isinstance(operation, dict) else []:
                found.setdefault(param["name"], param)
    return found


PARAMS = _parameters()


@pytest.mark.parametrize(
    ("name", "value"),
    [("view", "MINIMAL"), ("view", "EVERYTHING"), ("view", None), ("state", "DONE"), ("state", "QUEUED"),
     ("page_size", 0), ("page_size", 256), ("page_size", 2048), ("page_size", None), ("name_prefix", "x"),
     ("id", "task-1"), ("id", None)],
)
def test_the_check_answers_as_connexion_does(name: str, value: object) -> None:
    param = PARAMS[name]
    kind = param["in"]
    assert parameters.check(kind, value, param, None) == ParameterValidator.validate_parameter(kind, value, param)


def test_a_parameters_validator_is_built_once() -> None:
    param = PARAMS["view"]
    assert parameters.compiled(param) is parameters.compiled(param)
    assert parameters.compiled(param) is not parameters.compiled(PARAMS["state"])
    assert parameters.check("query", "FULL", param, None) is None
    assert "is not one of" in (parameters.check("query", "ALL", param, None) or "")
