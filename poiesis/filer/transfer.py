"""Shared transfer helpers: retries with backoff, atomic local writes, URL joins.

No scheme-specific code lives here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, TypeVar
from urllib.parse import quote

from poiesis.config.filer import RetryPolicy
from poiesis.filer.errors import FilerError, TransientError, redact

log = logging.getLogger(__name__)
T = TypeVar("T")


def with_retries(
    op: Callable[[], T],
    *,
    policy: RetryPolicy,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``op``; retry on TransientError with backoff, then fail with FilerError."""

    def text(exc: BaseException) -> str:
        return str(exc) if what in str(exc) else f"{what}: {exc}"

    def note(_attempt: int, exc: BaseException, wait: float) -> None:
        log.warning("%s", redact(f"{text(exc)}; retrying in {wait:.1f}s"))

    try:
        return policy.call(op, retry_on=TransientError, on_retry=note, sleep=sleep)
    except TransientError as exc:
        raise FilerError(f"{text(exc)} (gave up after {policy.attempts} attempts)") from exc


@contextlib.contextmanager
def atomic_file(dest: Path) -> Iterator[BinaryIO]:
    """Yield a temp file beside ``dest``; rename it over ``dest`` only on success."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def copy_stream(src: BinaryIO, dst: BinaryIO, *, chunk_size: int) -> int:
    """Copy ``src`` to ``dst`` in chunks; return the number of bytes copied."""
    total = 0
    while chunk := src.read(chunk_size):
        dst.write(chunk)
        total += len(chunk)
    return total


def check_size(*, got: int, expected: int | None, what: str) -> None:
    """Raise TransientError when a transfer ended short (or long)."""
    if expected is not None and got != expected:
        raise TransientError(f"{what}: transferred {got} bytes, expected {expected}")


def join_url(base: str, rel: str) -> str:
    """Append the relative POSIX path ``rel`` (percent-quoted) to the directory URL ``base``."""
    rel = quote(rel.lstrip("/"), safe="/")
    return base if not rel else f"{base.rstrip('/')}/{rel}"


def local_tree(directory: Path) -> list[tuple[str, Path]]:
    """Every regular file under ``directory`` as (relative POSIX path, path), sorted."""
    found = []
    for dirpath, _dirs, files in os.walk(directory):
        for name in files:
            path = Path(dirpath, name)
            if path.is_file():
                found.append((path.relative_to(directory).as_posix(), path))
    return sorted(found)
