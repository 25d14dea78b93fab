"""Opaque page tokens for ListTasks: pure encoding and decoding.

A token carries the position to continue below (the task's sequence number)
so that a walk never repeats or skips a task, whatever is created meanwhile.
"""

from __future__ import annotations

import base64
import binascii

_PREFIX = "p1:"


class BadToken(ValueError):
    """The token was not issued by this server."""


def encode(seq: int) -> str:
    """The token for 'continue below ``seq``'."""
    return base64.urlsafe_b64encode(f"{_PREFIX}{seq}".encode()).decode().rstrip("=")


def decode(token: str) -> int:
    """The sequence number a token carries; BadToken if it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise BadToken("page_token is malformed") from exc
    if not raw.startswith(_PREFIX) or not raw[len(_PREFIX):].isdigit():
        raise BadToken("page_token is malformed")
    return int(raw[len(_PREFIX):])
