"""Filer errors and the redaction applied to every message that leaves the filer.

A message may name a URL; credentials inside it (``user:pass@``), query
strings (pre-signed URL signatures) and the values of secret environment
variables are removed before the message is raised, logged or written to the
termination log.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

SECRET_ENV_VARS = (
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ACCESS_KEY_ID",
)

_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@")
_QUERY = re.compile(r"(?P<url>[A-Za-z][A-Za-z0-9+.-]*://[^\s?#]*)\?[^\s#]*?(?=:?(?:\s|$))")


class FilerError(Exception):
    """A transfer failed for good; the message is already sanitized."""

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))


class TransientError(Exception):
    """A failure worth retrying (connection reset, timeout, 5xx, short read)."""


def redact(text: str, *, environ: Mapping[str, str] | None = None) -> str:
    """Return ``text`` with URL credentials, query strings and secret values removed."""
    text = _USERINFO.sub(r"\g<scheme>***@", text)
    text = _QUERY.sub(r"\g<url>?***", text)
    env = os.environ if environ is None else environ
    for name in SECRET_ENV_VARS:
        value = env.get(name, "")
        if len(value) >= 4:
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
