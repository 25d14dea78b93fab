"""Open and create paths beneath a task's root without following any link an executor could plant.

Executors write freely under ``ROOT/files``; the server later opens paths
there for the next executor (stdin, stdout, stderr, workdir). Following a
symlink there would let executor 0 make the server read or overwrite any
host file (``ln -s /victim /out/log`` then ``stdout: /out/log``). So every
component is opened with ``O_NOFOLLOW`` relative to its parent's file
descriptor (``dir_fd``, an openat walk), directories are created the same
way, and the final file must be a regular file with a single link (a hard
link to a host file is refused too) that is not a FIFO that would block.
Anything else raises ``Unsafe`` naming the path.

The local backend opens executors' stdio files with it; TRec and TCtl's
shared recorder (``record``) read what executors could have written on a
Pod's task volume with ``read_tail`` and ``read_bounded``: never through a
link, never blocked by a FIFO, never more than a bound.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class Unsafe(OSError):
    """A path beneath the task root is a link, not a regular file or directory, or escapes the root."""


class TooLarge(Unsafe):
    """A file beneath the task root is larger than the reader's bound."""


def _parts(root: Path, path: Path) -> list[str]:
    try:
        rel = PurePosixPath(path).relative_to(root)
    except ValueError:
        raise Unsafe(f"{path} is not beneath {root}") from None
    parts = [p for p in rel.parts if p not in ("", ".")]
    if ".." in parts:
        raise Unsafe(f"{path} contains '..'")
    return parts


def _open_dir(name: str, dir_fd: int, *, create: bool, shown: str) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        if not create:
            raise
        with contextlib.suppress(FileExistsError):
            os.mkdir(name, 0o755, dir_fd=dir_fd)
        return _open_dir(name, dir_fd, create=False, shown=shown)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise Unsafe(f"{shown} is a symbolic link or not a directory; refusing to follow it") from None
        raise


@contextlib.contextmanager
def _walk(root: Path, parts: list[str], *, create: bool) -> Iterator[int]:
    """A descriptor of the directory ``root/parts...`` reached without following links."""
    fd = os.open(root, _DIR_FLAGS)
    try:
        for i, name in enumerate(parts):
            child = _open_dir(name, fd, create=create, shown="/".join(parts[: i + 1]))
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def make_dirs(root: Path, path: Path) -> None:
    """``mkdir -p path`` beneath ``root``, refusing any component that is a link."""
    with _walk(root, _parts(root, path), create=True):
        pass


def open_file(root: Path, path: Path, *, write: bool) -> int:
    """A descriptor of the regular file ``path`` beneath ``root``: read, or write (created, truncated).

    The caller closes it. Parent directories are created for writing.
    """
    parts = _parts(root, path)
    if not parts:
        raise Unsafe(f"{path} is the task root, not a file")
    flags = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | (os.O_RDWR | os.O_CREAT if write else os.O_RDONLY)
    shown = "/".join(parts)
    with _walk(root, parts[:-1], create=write) as parent:
        try:
            fd = os.open(parts[-1], flags, 0o644, dir_fd=parent)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise Unsafe(f"{shown} is a symbolic link; refusing to follow it") from None
            if exc.errno == errno.ENXIO:  # a FIFO without a reader
                raise Unsafe(f"{shown} is not a regular file") from None
            raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Unsafe(f"{shown} is not a regular file")
        if info.st_nlink > 1:
            raise Unsafe(f"{shown} has other hard links; refusing to use it")
        os.set_blocking(fd, True)
        if write:
            os.ftruncate(fd, 0)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_tail(root: Path, path: Path, limit: int) -> bytes:
    """The last ``limit`` bytes of the regular file ``path`` beneath ``root`` (``open_file``'s rules).

    Reads at most ``limit`` bytes whatever the file's size (a sparse file of
    terabytes costs one seek); ``Unsafe`` for a link, FIFO or other special file.
    """
    fd = open_file(root, path, write=False)
    try:
        size = os.fstat(fd).st_size
        return _read_upto(fd, max(0, size - limit), limit)
    finally:
        os.close(fd)


def read_bounded(root: Path, path: Path, limit: int) -> bytes:
    """The whole regular file ``path`` beneath ``root``; ``TooLarge`` when it has more than ``limit`` bytes."""
    fd = open_file(root, path, write=False)
    try:
        shown = "/".join(_parts(root, path))
        if os.fstat(fd).st_size > limit:
            raise TooLarge(f"{shown} is larger than {limit} bytes")
        data = _read_upto(fd, 0, limit + 1)  # it may have grown since fstat
        if len(data) > limit:
            raise TooLarge(f"{shown} is larger than {limit} bytes")
        return data
    finally:
        os.close(fd)


def _read_upto(fd: int, offset: int, limit: int) -> bytes:
    """At most ``limit`` bytes from ``offset`` on."""
    chunks: list[bytes] = []
    left = limit
    while left > 0:
        chunk = os.pread(fd, min(left, 1 << 20), offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
        left -= len(chunk)
    return b"".join(chunks)
