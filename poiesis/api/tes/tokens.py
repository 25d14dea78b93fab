"""Opaque page tokens for ListTasks: pure encoding and decoding.

A token carries the position to continue below (the task's sequence number)
so that a walk never repeats or skips a task, whatever is created meanwhile.
"""

from __future__ import annotations

import base64
import binascii

_PREFIX = "p1:"
_MAX_SEQ = 2**63 - 1  # PostgreSQL bigint


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
    digits = raw[len(_PREFIX):]
    # ASCII digits only (str.isdigit accepts '²' and other digits int() refuses), at most a bigint.
    if not raw.startswith(_PREFIX) or not digits.isascii() or not digits.isdigit() or len(digits) > 19:
        raise BadToken("page_token is malformed")
    seq = int(digits)
    if seq > _MAX_SEQ:
        raise BadToken("page_token is malformed")
    return seq
