"""The OpenAPI documents the API can serve, one per TES version, each read and parsed once per process.

A server serves one version (``POIESIS_TES_VERSION``, docs/api.md); the
app, the body validator (null members) and the integer-range check all read
that version's parsed document. Parsing YAML is slow in pure Python, so it
happens once per version, with libyaml when PyYAML has it, and before the
first request (``create_app`` asks for it). Callers must treat what it
returns as read-only.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from poiesis.config import TES_VERSIONS, ApiSettings

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: The version served when none is chosen.
DEFAULT_VERSION = ApiSettings.tes_version
__all__ = ["DEFAULT_VERSION", "TES_VERSIONS", "component_schemas", "service_type_version", "spec", "spec_path"]


def spec_path(version: str = DEFAULT_VERSION) -> Path:
    """The OpenAPI document of TES ``version`` (shipped inside its generated package, generated/v1_2/ for 1.2)."""
    if version not in TES_VERSIONS:
        raise ValueError(f"TES version {version!r} is not served (one of {', '.join(TES_VERSIONS)})")
    package = "v" + version.replace(".", "_")
    return Path(str(resources.files("generated").joinpath(package, "openapi.yaml")))


@functools.cache
def spec(version: str = DEFAULT_VERSION) -> dict[str, Any]:
    """The parsed document of TES ``version`` (shared: do not modify)."""
    return yaml.load(spec_path(version).read_text(encoding="utf-8"), Loader=_Loader)  # a safe loader (libyaml's when present)


def component_schemas(version: str = DEFAULT_VERSION) -> dict[str, Any]:
    """``components.schemas`` of the document of TES ``version`` (shared: do not modify)."""
    return spec(version)["components"]["schemas"]


def service_type_version(version: str) -> str:
    """service-info's ``type.version`` for a served TES version: ``1.2`` -> ``1.2.0``."""
    return spec(version)["info"]["version"]
