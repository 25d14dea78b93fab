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


#: TRec's and TCtl's writes: 8 attempts, 0.25 s doubling to 5 s (the next Pod event writes again)
DEFAULT_BACKOFF = Backoff(attempts=8, base_delay=0.25, max_delay=5.0)


@dataclass(frozen=True)
class WriteRetry:
    """Retries of database writes on ``Unavailable`` with ``backoff``, counted under ``component``."""

    backoff: Backoff = DEFAULT_BACKOFF
    component: str = "trec"
    sleep: Callable[[float], None] = time.sleep

    def __call__(self, fn: Callable[[], T]) -> T:
        """Run ``fn``; on ``Unavailable`` wait and try again; the last attempt's error propagates."""
        return self.backoff.call(fn, retry_on=Unavailable, on_retry=self._note, sleep=self.sleep)

    def _note(self, attempt: int, exc: BaseException, _wait: float) -> None:
        metrics.WRITE_RETRIES.labels(self.component).inc()
        log.warning(
            "%s: database unavailable (attempt %d/%d): %s", self.component, attempt, self.backoff.attempts, exc
        )
