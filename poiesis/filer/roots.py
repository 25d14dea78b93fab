"""Where file:// URLs may point, and how service-info names what the filers can reach.

``POIESIS_FILER_FILE_ROOTS`` lists the directories file:// inputs and
outputs may use. ``within`` is the one check the file backend (at transfer
time) and the API (at CreateTask) share; paths are resolved (symlinks
followed) before it. ``storage_prefixes`` renders the backend's reach as the
URL prefixes service-info's ``storage`` lists.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

from poiesis.config.filer import FILE_ROOTS_ENV as ENV
from poiesis.filer.errors import FilerError

#: Schemes every filer reaches without configuration (besides file and s3).
NETWORK_PREFIXES = ("http://", "https://", "ftp://")


def is_file_url(url: str) -> bool:
    """Whether ``url`` is served by the file backend (file://, or a bare absolute path)."""
    return url.startswith("/") or urlsplit(url).scheme.lower() == "file"


def path_of(url: str) -> Path:
    """The local path a file:// URL (or bare absolute path) names; FilerError if it names none."""
    if url.startswith("/"):
        return Path(url)
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise FilerError(f"{url}: file URLs must not name a host")
    if not parts.path.startswith("/"):
        raise FilerError(f"{url}: file URL without an absolute path")
    return Path(unquote(parts.path))


def within(path: Path, roots: Iterable[Path | str]) -> bool:
    """Whether ``path``, symlinks resolved, lies under one of ``roots`` (also resolved)."""
    real = Path(os.path.realpath(path))
    return any(real.is_relative_to(os.path.realpath(root)) for root in roots)


def refusal(url: str, roots: Sequence[Path | str]) -> str | None:
    """Why the filers would refuse the file URL ``url`` with these roots, or None if they allow it."""
    try:
        path = path_of(url)
    except FilerError as exc:
        return str(exc)
    if within(path, roots):
        return None
    if not roots:
        return f"{url}: file:// URLs are refused because {ENV} is empty on the server"
    listed = ":".join(str(root) for root in roots)
    return f"{url}: outside the allowed file roots ({ENV}={listed})"


def storage_prefixes(file_roots: Iterable[Path | str], *, s3_buckets: Iterable[str] = ()) -> tuple[str, ...]:
    """service-info ``storage``: ``file:///<root>/`` per root, S3 buckets (or ``s3://``), http(s), ftp."""
    files = [f"file://{str(Path(os.path.realpath(root))).rstrip('/')}/" for root in file_roots]
    buckets = [f"s3://{bucket.strip('/')}/" for bucket in s3_buckets] or ["s3://"]
    return (*files, *buckets, *NETWORK_PREFIXES)
