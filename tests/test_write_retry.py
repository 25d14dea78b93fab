"""store.WriteRetry: bounded retries of database writes, for TRec, TCtl and the local backend (injected sleep)."""

from __future__ import annotations

import pytest

from poiesis.retry import Backoff
from poiesis.store import Unavailable, WriteRetry


def test_retries_until_the_database_answers() -> None:
    """Two failures then success: the value comes back, after doubling waits."""
    slept: list[float] = []
    calls = iter([Unavailable("down"), Unavailable("down"), "ok"])

    def op():
        value = next(calls)
        if isinstance(value, Exception):
            raise value
        return value

    assert WriteRetry(Backoff(attempts=5, base_delay=0.5, max_delay=0.8), sleep=slept.append)(op) == "ok"
    assert slept == [0.5, 0.8]


def test_gives_up_after_the_bound() -> None:
    """Still down after every attempt: the error surfaces (the next Pod event records again)."""
    slept: list[float] = []

    def op():
        raise Unavailable("down")

    with pytest.raises(Unavailable):
        WriteRetry(Backoff(attempts=3, base_delay=1), sleep=slept.append)(op)
    assert slept == [1, 2]
