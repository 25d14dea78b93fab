"""Any bytes or text made into a string PostgreSQL stores: no NUL, valid UTF-8, bounded.

PostgreSQL refuses a text with a NUL character (psycopg raises ``DataError``
before sending it) and psycopg cannot encode a lone surrogate (a file name
that is not UTF-8, decoded with ``surrogateescape``, raises
``UnicodeEncodeError``). Either refusal is the same on every retry, so a
task whose executor printed ``\\0`` once would never be recorded. Every text
that reaches the store from what a task wrote (stdout/stderr tails, system
log lines, output file log paths and URLs) goes through ``storable`` first.

Pure: standard library only, in the bottom layer beside ``lifecycle``.
"""

from __future__ import annotations

import re
from typing import Literal

#: which end of a text longer than the bound is kept: a log's tail, a line's head
Keep = Literal["head", "tail"]
#: what takes the place of each NUL and of each byte that is not UTF-8
REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")


def _is_continuation(byte: int) -> bool:
    return 0x80 <= byte < 0xC0


def _cut(raw: bytes, limit: int, keep: Keep) -> bytes:
    """At most ``limit`` bytes of ``raw`` from the kept end, moved (by up to 3 bytes) off a character's middle."""
    if len(raw) <= limit:
        return raw
    if keep == "tail":
        start = len(raw) - limit
        for _ in range(3):
            if start < len(raw) and _is_continuation(raw[start]):
                start += 1
        return raw[start:]
    end = limit
    for _ in range(3):
        if end > 0 and _is_continuation(raw[end]):
            end -= 1
    return raw[:end]


def storable(data: bytes | str, limit: int, *, keep: Keep = "head") -> str:
    """``data`` as a string PostgreSQL accepts: no NUL, encodable as UTF-8, at most ``limit`` bytes in UTF-8.

    Bytes that are not UTF-8 (and lone surrogates in a ``str``) become U+FFFD, as does each
    NUL; a text longer than ``limit`` keeps its ``head`` or its ``tail``, cut between
    characters. Text that is already valid, NUL-free and short enough comes back unchanged.
    """
    if limit <= 0:
        return ""
    raw = data if isinstance(data, bytes) else _SURROGATE.sub(REPLACEMENT, data).encode("utf-8")
    text = _cut(raw, limit, keep).decode("utf-8", "replace").replace("\x00", REPLACEMENT)
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    # replacements (3 bytes each) made it longer than the bound: cut again, dropping a split character
    kept = encoded[-limit:] if keep == "tail" else encoded[:limit]
    return kept.decode("utf-8", "ignore")
