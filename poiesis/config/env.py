"""Reading one variable of the environment mapping the settings are built from.

Every section of the settings tree parses its variables with these, so an
unset variable and an empty one both mean the default everywhere, and a value
that does not parse raises ``SettingsError`` naming the variable. They take
the mapping they are given; only ``poiesis.config.load`` hands them the
process environment.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

Env = Mapping[str, str]
TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")
T = TypeVar("T")


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the variable and says what it takes."""


def text(env: Env, name: str, default: str | None = None) -> str | None:
    """The variable's value, or ``default`` when it is unset or empty."""
    value = env.get(name)
    return value if value else default


def string(env: Env, name: str, default: str) -> str:
    """The variable's value, or ``default`` (never None)."""
    return text(env, name) or default


def path(env: Env, name: str) -> Path | None:
    value = text(env, name)
    return Path(value) if value else None


def _parsed(env: Env, name: str, default: T, parse: Callable[[str], T], what: str) -> T:
    value = text(env, name)
    if value is None:
        return default
    try:
        return parse(value)
    except ValueError:
        raise SettingsError(f"{name} must be {what}, not {value!r}") from None


def integer(env: Env, name: str, default: int) -> int:
    return _parsed(env, name, default, int, "a whole number")


def number(env: Env, name: str, default: float) -> float:
    return _parsed(env, name, default, float, "a number")


def flag(env: Env, name: str, default: bool = False) -> bool:
    value = text(env, name)
    if value is None:
        return default
    if value.strip().lower() in TRUE:
        return True
    if value.strip().lower() in FALSE:
        return False
    raise SettingsError(f"{name} must be true or false, not {value!r}")


def choice(env: Env, name: str, default: str, choices: tuple[str, ...], *, lower: bool = False) -> str:
    value = string(env, name, default)
    value = value.strip().lower() if lower else value
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def words(env: Env, name: str, *, spaces: bool = False) -> tuple[str, ...]:
    """The variable's comma-separated parts (``spaces``: commas or white space), stripped, empty ones dropped."""
    value = text(env, name) or ""
    parts = value.replace(",", " ").split() if spaces else value.split(",")
    return tuple(part.strip() for part in parts if part.strip())


def _json(env: Env, name: str, kind: type, what: str) -> Any:
    raw = text(env, name)
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"{name} must be a JSON {what}: {exc}") from None
    if not isinstance(value, kind):
        raise SettingsError(f"{name} must be a JSON {what}")
    return value


def json_object(env: Env, name: str) -> dict[str, Any] | None:
    result: dict[str, Any] | None = _json(env, name, dict, "object")
    return result


def json_array(env: Env, name: str) -> list[Any]:
    result: list[Any] | None = _json(env, name, list, "array")
    return result or []


def data_home(env: Env) -> Path:
    """XDG_DATA_HOME, else ~/.local/share: where the embedded database and local task directories go."""
    return path(env, "XDG_DATA_HOME") or Path.home() / ".local" / "share"
