"""Request input the handlers must never see: pure checks, each returning a reason or None.

NUL characters and lone surrogates (PostgreSQL cannot store either), invalid
UTF-8, non-UTF-8 charsets, NaN/Infinity and numbers that overflow to
infinity, JSON nested deeper than the limit, and control characters in the
path or query. Each becomes a 400 problem document in ``guard``.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any
from urllib.parse import unquote_to_bytes

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Refused(ValueError):
    """The input is refused; the message says why (it becomes the problem's detail)."""


def check_text(where: str, raw: bytes) -> str:
    """Percent-decoded path or query text: valid UTF-8 without control characters, or Refused."""
    decoded = unquote_to_bytes(raw.replace(b"+", b" ") if where == "query" else raw)
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(f"the {where} is not valid UTF-8") from None
    if _CONTROL.search(text):
        raise Refused(f"the {where} contains a control character (NUL, newline...)")
    return text


def check_charset(content_type: str) -> None:
    """Refuse a declared charset other than UTF-8 (JSON is UTF-8: RFC 8259)."""
    for param in content_type.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise Refused(f"charset {value.strip()!r} is not supported; send UTF-8 JSON")


def _no_constant(name: str) -> Any:
    raise Refused(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise Refused(f"the number {text[:40]} is out of range")
    return value


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > 20:
        raise Refused(f"the number {text[:40]}... is out of range")
    return int(text)


def parse_json(body: bytes, *, max_depth: int) -> Any:
    """The body as JSON, or Refused: strict UTF-8, no NaN/Infinity, finite numbers, bounded depth and strings."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused("the body is not valid UTF-8") from None
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite, parse_int=_integer)
    except RecursionError:
        raise Refused(f"the JSON is nested more than {max_depth} levels deep (limit json_depth)") from None
    except json.JSONDecodeError as exc:
        raise Refused(f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    check_value(value, max_depth=max_depth)
    return value


def _string_problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character"
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (\\ud800-\\udfff)"
    return None


def check_value(value: Any, *, max_depth: int) -> None:
    """Walk a parsed JSON value without recursion: depth, and every key and string.

    The first walk keeps no paths; only a value with a problem is walked again to name where it is.
    """
    if not _is_clean(value, max_depth):
        _refuse_where(value, max_depth)


def _is_clean(value: Any, max_depth: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth > max_depth or any(_string_problem(key) for key in item):
                return False
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            if depth > max_depth:
                return False
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str) and _string_problem(item):
            return False
    return True


def _refuse_where(value: Any, max_depth: int) -> None:
    """Raise Refused naming the first problem and its place (the walk with paths)."""
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, dict | list):
            if depth > max_depth:
                raise Refused(f"the JSON is nested more than {max_depth} levels deep (limit json_depth)")
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in pairs:
                name = f"{path}.{key}" if isinstance(key, str) else f"{path}[{key}]"
                if isinstance(key, str) and (msg := _string_problem(key)):
                    raise Refused(f"a key at {path or 'the top'} {msg}")
                stack.append((child, depth + 1, name))
        elif isinstance(item, str) and (msg := _string_problem(item)):
            raise Refused(f"{path.lstrip('.') or 'the body'} {msg}")
