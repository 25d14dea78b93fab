"""Filer errors and the redaction applied to every message that leaves the filer.

A message may name a URL; credentials inside it (``user:pass@``), query
strings (pre-signed URL signatures) and the secret values the filer settings
hold (``FilerConfig.secrets``: the AWS credentials) are removed before the
message is raised, logged or written to the termination log. Whoever is given
a ``FilerConfig`` (``fetch_inputs``, ``upload_outputs``, the filer command)
calls ``hide`` with its secrets first, so every message after that, wherever
it is made, leaves them out.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

#: secrets shorter than this are not replaced: they would mangle ordinary words
MIN_SECRET = 4
_hidden: frozenset[str] = frozenset()
_hidden_lock = threading.Lock()


def hide(secrets: Iterable[str]) -> None:
    """Remove ``secrets`` from every message this process redacts from now on."""
    global _hidden  # noqa: PLW0603 - the process's credentials: only ever added to
    with _hidden_lock:
        _hidden = _hidden | {value for value in secrets if len(value) >= MIN_SECRET}

_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@")
_QUERY = re.compile(r"(?P<url>[A-Za-z][A-Za-z0-9+.-]*://[^\s?#]*)\?[^\s#]*?(?=:?(?:\s|$))")


class FilerError(Exception):
    """A transfer failed for good; the message is already sanitized."""

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))


class TransientError(Exception):
    """A failure worth retrying (connection reset, timeout, 5xx, short read)."""


def redact(text: str, *, secrets: Iterable[str] | None = None) -> str:
    """Return ``text`` with URL credentials, query strings and secret values (default: the hidden ones) removed."""
    text = _USERINFO.sub(r"\g<scheme>***@", text)
    text = _QUERY.sub(r"\g<url>?***", text)
    for value in _hidden if secrets is None else secrets:
        if len(value) >= MIN_SECRET:
            text = text.replace(value, "***")
    return text


def public_url(url: str) -> str:
    """``url`` without userinfo and query string: fit for output file logs."""
    parts = urlsplit(url)
    if not parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, host, parts.path, "", parts.fragment))


def one_line(text: str) -> str:
    """Collapse ``text`` to a single line (termination logs are read as one)."""
    return " ".join(text.split())
