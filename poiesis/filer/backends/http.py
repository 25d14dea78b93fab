"""http:// and https://: GET for inputs, PUT for outputs (requests, streamed).

Credentials in the URL (``user:pass@``) are sent as HTTP Basic auth. A
non-2xx answer is never saved as the file. 5xx, 408, 429 and dropped
connections are transient; other 4xx are not. There is no directory listing
over HTTP, so DIRECTORY inputs are refused; DIRECTORY outputs PUT one URL
per file. Every connection, redirects' included, goes only to an address
``poiesis.filer.destinations`` lets through for its scheme (checked on the
resolved address, connected to that address; TLS still verifies the host name).
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit, urlunsplit

import requests
import requests.adapters
import urllib3
import urllib3.connection
import urllib3.connectionpool
import urllib3.exceptions

from poiesis.config.filer import FilerConfig, Network
from poiesis.filer import destinations
from poiesis.filer.backends.base import Backend
from poiesis.filer.errors import FilerError, TransientError
from poiesis.filer.transfer import atomic_file, check_size

_TRANSIENT_STATUS = frozenset({408, 425, 429})
_NETWORK_ERRORS = (
    urllib3.exceptions.HTTPError,  # raised by resp.raw reads: ProtocolError, IncompleteRead, ReadTimeoutError
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


class HttpBackend(Backend):
    """HTTP(S) through one requests session."""

    def __init__(self, config: FilerConfig) -> None:
        super().__init__(config)
        self.session = requests.Session()
        adapter = GuardedAdapter({scheme: config.allowed_networks(scheme) for scheme in ("http", "https")})
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.timeout = (config.connect_timeout, config.read_timeout)

    def get_file(self, url: str, dest: Path) -> int:
        bare, auth = _split_auth(url)
        try:
            with self.session.get(
                bare, auth=auth, stream=True, timeout=self.timeout, headers={"Accept-Encoding": "identity"}
            ) as resp:
                _check_status(resp, verb="GET", url=url)
                expected = _content_length(resp)
                with atomic_file(dest) as fh:
                    shutil.copyfileobj(resp.raw, fh, self.config.chunk_size)
                    size = fh.tell()
                    check_size(got=size, expected=expected, what=f"GET {url}")
                return size
        except destinations.DestinationRefused as exc:
            raise FilerError(f"GET {url}: {exc}") from exc
        except _NETWORK_ERRORS as exc:
            raise TransientError(f"GET {url}: {type(exc).__name__}") from exc
        except requests.RequestException as exc:
            raise FilerError(f"GET {url}: {type(exc).__name__}: {exc}") from exc

    def put_file(self, src: Path, url: str) -> None:
        bare, auth = _split_auth(url)
        try:
            with src.open("rb") as fh:
                body = _Chunks(fh, size=src.stat().st_size, chunk_size=self.config.chunk_size)
                resp = self.session.put(bare, data=body, auth=auth, timeout=self.timeout)
            with resp:
                _check_status(resp, verb="PUT", url=url)
        except destinations.DestinationRefused as exc:
            raise FilerError(f"PUT {url}: {exc}") from exc
        except _NETWORK_ERRORS as exc:
            raise TransientError(f"PUT {url}: {type(exc).__name__}") from exc
        except requests.RequestException as exc:
            raise FilerError(f"PUT {url}: {type(exc).__name__}: {exc}") from exc

    def list_files(self, url: str) -> list[str]:
        raise FilerError(f"{url}: DIRECTORY inputs are not supported over HTTP (no listing)")

    def close(self) -> None:
        self.session.close()


class _GuardedConnection(urllib3.connection.HTTPConnection):
    """urllib3's connection, opened through ``destinations.connect`` (its errors mapped as urllib3 maps its own)."""

    scheme_name = "http"
    allowed: Sequence[Network] = ()

    def _new_conn(self) -> socket.socket:
        try:
            return destinations.connect(
                self._dns_host, self.port, scheme=self.scheme_name, allowed=self.allowed, timeout=self.timeout,
                source_address=self.source_address, socket_options=self.socket_options,
            )
        except socket.gaierror as exc:
            raise urllib3.exceptions.NameResolutionError(self.host, self, exc) from exc
        except TimeoutError as exc:
            raise urllib3.exceptions.ConnectTimeoutError(self, f"Connection to {self.host} timed out") from exc
        except OSError as exc:
            raise urllib3.exceptions.NewConnectionError(self, f"Failed to establish a new connection: {exc}") from exc


class _GuardedHTTPSConnection(_GuardedConnection, urllib3.connection.HTTPSConnection):
    """HTTPS: the TCP connection through the guard, then TLS verified against the URL's host name as usual."""

    scheme_name = "https"


class GuardedAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter whose connection pools connect only where ``destinations`` allows.

    A redirect is a new request through the same adapter, so its connection is
    checked too. Proxies (from the environment) keep urllib3's own pools.
    """

    def __init__(self, allowed: dict[str, Sequence[Network]], **kwargs: Any) -> None:
        self._allowed = allowed
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        http = type("Connection", (_GuardedConnection,), {"allowed": tuple(self._allowed.get("http", ()))})
        https = type("Connection", (_GuardedHTTPSConnection,), {"allowed": tuple(self._allowed.get("https", ()))})
        self.poolmanager.pool_classes_by_scheme = {
            "http": type("Pool", (urllib3.connectionpool.HTTPConnectionPool,), {"ConnectionCls": http}),
            "https": type("Pool", (urllib3.connectionpool.HTTPSConnectionPool,), {"ConnectionCls": https}),
        }


class _Chunks:
    """A file as an iterable of large chunks with a length: sent with Content-Length, not chunked.

    (Handing requests the file itself makes http.client send it 16 KiB at a time.)
    """

    def __init__(self, fh: BinaryIO, *, size: int, chunk_size: int) -> None:
        self._fh, self._size, self._chunk = fh, size, chunk_size

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self._fh.read(self._chunk):
            yield chunk


def _split_auth(url: str) -> tuple[str, tuple[str, str] | None]:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise FilerError(f"{url}: not a valid http(s) URL")
    if parts.username is None:
        return url, None
    netloc = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    if ":" in parts.hostname:
        netloc = f"[{parts.hostname}]" + ("" if parts.port is None else f":{parts.port}")
    bare = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return bare, (unquote(parts.username), unquote(parts.password or ""))


def _check_status(resp: requests.Response, *, verb: str, url: str) -> None:
    code = resp.status_code
    if 200 <= code < 300:
        return
    if code >= 500 or code in _TRANSIENT_STATUS:
        raise TransientError(f"{verb} {url}: HTTP {code} {resp.reason}")
    raise FilerError(f"{verb} {url}: HTTP {code} {resp.reason}")


def _content_length(resp: requests.Response) -> int | None:
    if resp.headers.get("Content-Encoding", "identity") != "identity":
        return None
    value = resp.headers.get("Content-Length")
    return int(value) if value and value.isdigit() else None
