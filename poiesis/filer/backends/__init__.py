"""One module per URL scheme behind the small ``Backend`` interface.

A backend moves bytes between one URL and one local path; it knows nothing
about tasks, TES paths or output file logs. It raises ``TransientError`` for
failures worth retrying and ``FilerError`` for the rest; the caller retries.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from poiesis.config.filer import FilerConfig
from poiesis.filer.backends.base import Backend
from poiesis.filer.errors import FilerError

SUPPORTED_SCHEMES: tuple[str, ...] = ("file", "http", "https", "s3", "ftp")


def scheme_of(url: str) -> str:
    """The lower-case scheme of ``url``; a bare absolute path counts as ``file``."""
    if url.startswith("/"):
        return "file"
    return urlsplit(url).scheme.lower()


def backend_for(url: str, *, config: FilerConfig, cache: dict[str, Backend] | None = None) -> Backend:
    """The backend serving ``url``'s scheme (one instance per scheme when ``cache`` is given)."""
    scheme = scheme_of(url)
    if scheme not in SUPPORTED_SCHEMES:
        raise FilerError(f"unsupported URL scheme {scheme!r} in {url} (supported: {', '.join(SUPPORTED_SCHEMES)})")
    key = "http" if scheme == "https" else scheme
    if cache is not None and key in cache:
        return cache[key]
    backend = _make(key, config)
    if cache is not None:
        cache[key] = backend
    return backend


def _make(key: str, config: FilerConfig) -> Backend:
    if key == "file":
        from poiesis.filer.backends import file

        return file.FileBackend(config)
    if key == "http":
        from poiesis.filer.backends import http

        return http.HttpBackend(config)
    if key == "s3":
        from poiesis.filer.backends import s3

        return s3.S3Backend(config)
    from poiesis.filer.backends import ftp

    return ftp.FtpBackend(config)
