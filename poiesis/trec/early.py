"""TRec's first act: catch SIGTERM before anything slow is imported.

In the Pod TRec is PID 1 of its container, and the kernel drops a signal
sent to PID 1 that has no handler. The kubelet may stop the sidecar at any
moment after its process exists (the Pod is deleted), and importing the
kubernetes client and psycopg takes seconds on a busy node, so ``poiesis
trec`` installs this handler before those imports (``poiesis.cli`` calls
``install`` first thing). The handler only notes the time and sets an
event; the recorder looks at it once it runs. Standard library only.
"""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType


class Termination:
    """SIGTERM/SIGINT seen: ``event`` set, ``at`` the monotonic time of the first one."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.at: float | None = None

    def __call__(self, _signum: int, _frame: FrameType | None) -> None:
        if self.at is None:
            self.at = time.monotonic()
        self.event.set()


TERMINATION = Termination()


def install() -> Termination:
    """Route SIGTERM and SIGINT to ``TERMINATION`` (idempotent); returns it."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, TERMINATION)
    return TERMINATION
