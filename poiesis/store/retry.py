"""Database writes retried while the database is unavailable: one policy for every writer.

TRec, TCtl and the local backend all write task state that must not be lost
to a database blip; each wraps its writes in a ``WriteRetry`` naming itself
as ``component`` (the label of the retry counter). The backoff itself is
``poiesis.retry.Backoff``, shared with the filers' network retries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from poiesis import metrics
from poiesis.retry import Backoff
from poiesis.store.db import Unavailable

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class WriteRetry:
    """Bounded retries of database writes: ``attempts`` tries, delay doubling up to ``max_delay_s``."""

    attempts: int = 8
    delay_s: float = 0.25
    max_delay_s: float = 5.0
    sleep: Callable[[float], None] = time.sleep
    component: str = "trec"

    def __call__(self, fn: Callable[[], T]) -> T:
        """Run ``fn``; on ``Unavailable`` wait and try again; the last attempt's error propagates."""
        backoff = Backoff(attempts=self.attempts, base_delay=self.delay_s, max_delay=self.max_delay_s)
        return backoff.call(fn, retry_on=Unavailable, on_retry=self._note, sleep=self.sleep)

    def _note(self, attempt: int, exc: BaseException, _wait: float) -> None:
        metrics.WRITE_RETRIES.labels(self.component).inc()
        log.warning("%s: database unavailable (attempt %d/%d): %s", self.component, attempt, self.attempts, exc)
