"""The OpenAPI document the API serves, read and parsed once per process.

The app, the body validator (null members) and the integer-range check all
read the same parsed document; parsing YAML is slow in pure Python, so it
happens once, with libyaml when PyYAML has it, and before the first request
(``create_app`` asks for it). Callers must treat what it returns as read-only.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def spec_path() -> Path:
    """The OpenAPI document the app serves (shipped inside the generated package)."""
    return Path(str(resources.files("generated").joinpath("openapi.yaml")))


@functools.cache
def spec() -> dict[str, Any]:
    """The parsed document (shared: do not modify)."""
    return yaml.load(spec_path().read_text(encoding="utf-8"), Loader=_Loader)  # a safe loader (libyaml's when present)


def component_schemas() -> dict[str, Any]:
    """``components.schemas`` of the document (shared: do not modify)."""
    return spec()["components"]["schemas"]
