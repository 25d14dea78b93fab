"""Connexion's check of query and path parameters, with each parameter's schema compiled once.

Connexion deep-copies a parameter's schema and builds a jsonschema validator
for it on every request (about a tenth of a GetTask's CPU in a py-spy
sample). Here the validator of each parameter of the served document is
built on first use and kept; the answers, messages included, are Connexion's,
with the parameter's name put in front.
"""

from __future__ import annotations

import copy

from connexion.utils import is_null, is_nullable
from connexion.validators import ParameterValidator
from connexion.validators.parameter import draft4_format_checker
from jsonschema import Draft4Validator, ValidationError  # type: ignore[import-untyped]

#: the compiled schema validator of each parameter of the document, by the parameter's identity
_VALIDATORS: dict[int, tuple[dict, Draft4Validator]] = {}


def compiled(param: dict) -> Draft4Validator:
    """The validator of one parameter's schema, built on first use and kept (Connexion builds one per request)."""
    known = _VALIDATORS.get(id(param))
    if known is None or known[0] is not param:
        schema = copy.deepcopy(param.get("schema", param))
        known = _VALIDATORS[id(param)] = (param, Draft4Validator(schema, format_checker=draft4_format_checker))
    return known[1]


def check(parameter_type: str, value: object, param: dict, param_name: str | None) -> str | None:
    """Connexion's check of one parameter value, with the schema compiled once per parameter."""
    if value is None or (is_nullable(param) and is_null(value)):
        return ParameterValidator.validate_parameter(parameter_type, value, param, param_name)
    try:
        compiled(param).validate(value)
    except ValidationError as exc:
        return str(exc)
    return None


class NamingParameterValidator(ParameterValidator):
    """Connexion's parameter validation, with the parameter's name in the message."""

    @staticmethod
    def validate_parameter(parameter_type, value, param, param_name=None):  # noqa: ANN001, ANN205
        error = check(parameter_type, value, param, param_name)
        if error:
            return f"{parameter_type} parameter '{param['name']}': {error.splitlines()[0]}"
        return None
