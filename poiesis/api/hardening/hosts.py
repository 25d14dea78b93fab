"""Which Host and Origin headers the API accepts: pure.

Host: the loopback names always, plus the configured names (``*`` for any):
a DNS-rebinding page reaching a loopback server sends its own name and is
refused. Origin: a state-changing request from a browser must come from the
server's own origin or a configured one; requests without Origin (curl, TES
clients) are not browsers and pass.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from poiesis.config.security import LOOPBACK_NAMES

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def host_name(host: str) -> str:
    """The name part of a Host header value (no port), lower-case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def host_allowed(host: str | None, allowed: tuple[str, ...]) -> bool:
    """Whether a request with this Host header is for this server."""
    if host is None:
        return False
    name = host_name(host)
    return "*" in allowed or name in LOOPBACK_NAMES or name in {a.lower() for a in allowed}


def origin_allowed(method: str, origin: str | None, fetch_site: str | None, host: str | None,
                   allowed: tuple[str, ...]) -> bool:
    """Whether a request may change state given its Origin and Sec-Fetch-Site headers."""
    if method.upper() in SAFE_METHODS:
        return True
    if origin is None:
        return fetch_site is None or fetch_site in ("same-origin", "none")
    origin = origin.strip().lower()
    if origin in {a.lower().rstrip("/") for a in allowed}:
        return True
    parts = urlsplit(origin)
    return origin != "null" and host is not None and parts.netloc == host.strip().lower()
