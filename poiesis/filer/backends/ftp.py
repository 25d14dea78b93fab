"""ftp://[user[:password]@]host[:port]/path with ftplib (binary mode, passive).

The URL path is taken as an absolute path on the server. Without a user the
login is anonymous. Replies 4xx and dropped connections are transient, 5xx
(550 missing file, 530 bad login) are not. Every download is checked against
SIZE, every upload goes to a temporary name, is checked against SIZE and
only then renamed into place, so a cut transfer never passes for a whole
file. Directories are listed with MLSD (RFC 3659). The control connection
goes only to an address ``poiesis.filer.destinations`` lets through for ftp
(resolved once, checked, connected to by address); data connections go to
that same address (ftplib ignores the address in a PASV reply).
"""

from __future__ import annotations

import ftplib
import posixpath
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

from poiesis.config.filer import Network
from poiesis.filer import destinations
from poiesis.filer.backends.base import Backend
from poiesis.filer.errors import FilerError, TransientError
from poiesis.filer.transfer import atomic_file, check_size

_NETWORK_ERRORS = (OSError, EOFError, ftplib.error_temp, ftplib.error_reply, ftplib.error_proto)


class FtpBackend(Backend):
    """One FTP connection per operation (FTP connections do not pool well)."""

    def get_file(self, url: str, dest: Path) -> int:
        with self._connect(url) as (ftp, path):
            expected = _size(ftp, path, url=url)
            with atomic_file(dest) as fh:
                ftp.retrbinary(f"RETR {path}", fh.write, blocksize=self.config.chunk_size)
                size = fh.tell()
                check_size(got=size, expected=expected, what=f"RETR {url}")
            return size

    def put_file(self, src: Path, url: str) -> None:
        with self._connect(url) as (ftp, path):
            if not posixpath.basename(path):
                raise FilerError(f"{url}: an FTP upload URL needs a file name")
            _makedirs(ftp, posixpath.dirname(path))
            tmp = posixpath.join(posixpath.dirname(path), f".{posixpath.basename(path)}.part")
            with src.open("rb") as fh:
                ftp.storbinary(f"STOR {tmp}", fh, blocksize=self.config.chunk_size)
            stored = _size(ftp, tmp, url=url)
            if stored is not None:  # servers without SIZE cannot be checked
                check_size(got=stored, expected=src.stat().st_size, what=f"STOR {url}")
            ftp.rename(tmp, path)

    def list_files(self, url: str) -> list[str]:
        with self._connect(url) as (ftp, path):
            rels = sorted(_walk(ftp, path.rstrip("/") or "/", ""))
        if not rels:
            raise FilerError(f"{url}: no files in this directory")
        return rels

    @contextmanager
    def _connect(self, url: str) -> Iterator[tuple[ftplib.FTP, str]]:
        parts = urlsplit(url)
        if parts.scheme.lower() != "ftp" or not parts.hostname:
            raise FilerError(f"{url}: not a valid ftp:// URL")
        path = unquote(parts.path) or "/"
        ftp = ftplib.FTP(timeout=self.config.read_timeout)
        try:
            try:
                _connect(ftp, parts.hostname, parts.port or 21, allowed=self.config.allowed_networks("ftp"),
                         timeout=self.config.connect_timeout)
                ftp.login(unquote(parts.username or "anonymous"), unquote(parts.password or ""))
                ftp.set_pasv(True)
                yield ftp, path
            except destinations.DestinationRefused as exc:
                raise FilerError(f"{url}: {exc}") from exc
            except ftplib.error_perm as exc:
                raise FilerError(f"{url}: FTP {_reply(exc)}") from exc
            except _NETWORK_ERRORS as exc:
                raise TransientError(f"{url}: FTP {_reply(exc)}") from exc
        finally:
            _close(ftp)


def _connect(ftp: ftplib.FTP, host: str, port: int, *, allowed: tuple[Network, ...],
             timeout: float) -> None:
    """``ftp.connect`` to the first address of ``host`` the destinations check lets through and that answers."""
    error: OSError | None = None
    for entry in destinations.resolve(host, port, scheme="ftp", allowed=allowed):
        try:
            ftp.connect(entry[4][0], port, timeout=timeout)  # an address: no second lookup
            return
        except OSError as exc:
            error = exc
            ftp.close()
    assert error is not None  # resolve returned at least one address
    raise error


def _size(ftp: ftplib.FTP, path: str, *, url: str) -> int | None:
    ftp.voidcmd("TYPE I")
    try:
        return ftp.size(path)
    except ftplib.error_perm as exc:
        if str(exc).startswith("550"):
            raise FilerError(f"{url}: FTP {_reply(exc)}") from exc
        return None  # SIZE not supported: no check possible


def _makedirs(ftp: ftplib.FTP, directory: str) -> None:
    current = ""
    for part in [p for p in directory.split("/") if p]:
        current = f"{current}/{part}"
        try:
            ftp.mkd(current)
        except ftplib.error_perm as exc:
            if not str(exc).startswith("550") and not str(exc).startswith("521"):
                raise


def _walk(ftp: ftplib.FTP, directory: str, rel: str) -> Iterator[str]:
    for name, facts in ftp.mlsd(directory, facts=["type"]):
        kind = facts.get("type", "").lower()
        if kind == "file":
            yield posixpath.join(rel, name)
        elif kind == "dir":
            yield from _walk(ftp, posixpath.join(directory, name), posixpath.join(rel, name))


def _reply(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if not isinstance(exc, (socket.timeout, TimeoutError)) else "timed out"


def _close(ftp: ftplib.FTP) -> None:
    try:
        ftp.quit()
    except Exception:  # noqa: BLE001 - the connection may already be gone
        ftp.close()
