"""Exponential backoff for operations that may fail for a while: pure, no I/O of its own.

Shared by the filers (network errors) and TRec (database outages); each
says which exceptions are worth another try and what to log between tries.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """``attempts`` tries, waiting ``base_delay * factor**n`` seconds between them, at most ``max_delay``."""

    attempts: int = 5
    base_delay: float = 1.0
    factor: float = 2.0
    max_delay: float = 30.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return min(self.max_delay, self.base_delay * self.factor ** (attempt - 1))

    def call(
        self,
        op: Callable[[], T],
        *,
        retry_on: type[BaseException] | tuple[type[BaseException], ...],
        on_retry: Callable[[int, BaseException, float], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> T:
        """Run ``op``; on ``retry_on`` wait and try again; the last attempt's error propagates."""
        for attempt in range(1, self.attempts + 1):
            try:
                return op()
            except retry_on as exc:
                if attempt == self.attempts:
                    raise
                wait = self.delay(attempt)
                if on_retry is not None:
                    on_retry(attempt, exc, wait)
                sleep(wait)
        raise AssertionError("unreachable")
