"""TRec's stop: the SIGTERM handler is in place before the slow imports, and what a read after SIGTERM settles."""

from __future__ import annotations

import signal
import subprocess
import sys

from poiesis import lifecycle
from poiesis.trec.run import after_sigterm, final_deadline
from tests.kube.pods import at, done, pod, running

# Runs `poiesis trec` as the console script does, with signal.signal wrapped to report, at the moment
# the SIGTERM handler is installed, whether the slow client libraries are already imported.
_SPY = """
import signal, sys
real = signal.signal
def spy(sig, handler):
    previous = real(sig, handler)
    if sig == signal.SIGTERM:
        slow = sorted(m for m in ("kubernetes", "psycopg", "psycopg_pool") if m in sys.modules)
        print("SIGTERM handler installed; already imported: " + ",".join(slow), file=sys.stderr, flush=True)
    return previous
signal.signal = spy
from poiesis.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_poiesis_trec_handles_sigterm_before_importing_the_clients(tmp_path) -> None:
    """The handler is installed before kubernetes/psycopg are imported, and a SIGTERM right then ends TRec cleanly.

    In the Pod TRec is PID 1, where a signal without a handler is dropped
    and the kubelet's SIGKILL follows after the grace period; here a missing
    handler would show as death by SIGTERM (-15).
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", _SPY, "trec", "--pod", "p", "--namespace", "n", "--task-id", "t",
         "--database-url", "postgresql://127.0.0.1:1/none", "--kubeconfig", str(tmp_path / "no-kubeconfig")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    first = proc.stderr.readline()
    proc.send_signal(signal.SIGTERM)
    rest = proc.communicate(timeout=60)[1]
    assert first.strip() == "SIGTERM handler installed; already imported:", first + rest
    assert proc.returncode != -signal.SIGTERM, "SIGTERM killed trec: no handler"


def _tof_ended_seen_late() -> dict:
    return pod(executors=1, init={"trec": running(1), "tif": done(1, 2), "executor-0": done(3, 4)}, main=running(5), phase="Running")


def test_after_sigterm_waits_for_the_end_to_show() -> None:
    """tof still running in the API (the kubelet's status write lags its SIGTERM): read again, record nothing final."""
    assert after_sigterm(_tof_ended_seen_late()) is None


def test_after_sigterm_records_an_end_that_shows() -> None:
    """Once tof's end is visible the outcome is the task's end."""
    ended = pod(executors=1, init={"trec": running(1), "tif": done(1, 2), "executor-0": done(3, 4)}, main=done(5, 6), phase="Running")
    assert after_sigterm(ended).end.state == "COMPLETE"


def test_after_sigterm_on_a_deleted_pod_ends_the_task() -> None:
    """A Pod being deleted, or gone, ends the task at once (SYSTEM_ERROR; the store makes a cancel CANCELED)."""
    deleting = pod(executors=1, init={"trec": running(1), "tif": done(1, 2), "executor-0": running(3)}, deleted=at(50))
    for found in (after_sigterm(deleting), after_sigterm(None)):
        assert found.end == lifecycle.pod_deleted()
    assert after_sigterm(deleting).start_time is not None


def test_final_deadline_leaves_a_margin_of_the_grace() -> None:
    """Re-read until the grace less 10% (at least 2 s): 27 s of the default 30, 0 s of a 1 s grace."""
    assert final_deadline(100.0, 30) == 127.0
    assert final_deadline(100.0, 300) == 370.0
    assert final_deadline(100.0, 1) == 100.0
