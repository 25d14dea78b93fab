"""Start one executor from its ``Launch``, wait for it, stop it on request.

Every executor starts in a new session (its own process group). Stopping
kills that group with SIGKILL and, for a container, asks the engine to kill
the container; a process-mode wrapper ``unshare --kill-child`` takes every
descendant with it. The server's death kills the executor too (the child is
started through ``setpriv --pdeathsig KILL`` when available).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from poiesis.local.engine import Launch

log = logging.getLogger(__name__)

#: Exit code reported when the command cannot be started at all (as a shell would).
NOT_FOUND = 127
#: Exit code of podman/docker run when the engine itself failed (image, mounts...).
ENGINE_FAILED = 125


@dataclass(frozen=True)
class Result:
    """How one executor ended."""

    exit_code: int
    start: datetime
    end: datetime
    stdout: str
    stderr: str
    cancelled: bool = False


def now() -> datetime:
    return datetime.now(UTC)


def tail(path: Path, limit: int) -> str:
    """The last ``limit`` bytes of a file as text (NULs dropped, bad UTF-8 replaced); '' if absent."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - limit))
            data = fh.read(limit)
    except OSError:
        return ""
    return data.decode("utf-8", errors="replace").replace("\x00", "")


def exit_code_of(returncode: int) -> int:
    """A shell-style exit code: 128+N for a process killed by signal N."""
    return 128 - returncode if returncode < 0 else returncode


_PDEATHSIG = shutil.which("setpriv")


class Running:
    """One started executor; ``stop`` may be called from any thread, any number of times."""

    def __init__(self, launch: Launch, *, engine_cli: str | None = None) -> None:
        self.launch = launch
        self._engine_cli = engine_cli
        self._lock = threading.Lock()
        self._stopped = False
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = now()

    def start(self) -> None:
        launch = self.launch
        argv = launch.argv
        if _PDEATHSIG:
            argv = [_PDEATHSIG, "--pdeathsig", "KILL", "--", *argv]
        with contextlib.ExitStack() as stack:
            stdin = stack.enter_context(launch.stdin.open("rb")) if launch.stdin else subprocess.DEVNULL
            stdout = stack.enter_context(launch.stdout.open("wb"))
            stderr = stack.enter_context(launch.stderr.open("wb"))
            with self._lock:
                if self._stopped:
                    return
                self.started_at = now()
                self.proc = subprocess.Popen(
                    argv, cwd=launch.cwd, env=launch.env, stdin=stdin, stdout=stdout, stderr=stderr,
                    start_new_session=True, close_fds=True,
                )

    def wait(self) -> int | None:
        """The process's return code, or None if it was stopped before it started."""
        return None if self.proc is None else self.proc.wait()

    def stop(self) -> None:
        """Kill the executor's whole process group (and its container)."""
        with self._lock:
            self._stopped = True
            proc = self.proc
        if self.launch.container and self._engine_cli:
            subprocess.run(
                [self._engine_cli, "kill", self.launch.container],
                capture_output=True, timeout=30, check=False,
            )
        if proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)

    def remove_container(self) -> None:
        """Force-remove the container: a run killed while the engine was creating it may leave one."""
        if self.launch.container and self._engine_cli:
            subprocess.run(
                [self._engine_cli, "rm", "--force", self.launch.container],
                capture_output=True, timeout=60, check=False,
            )

    @property
    def stopped(self) -> bool:
        return self._stopped


def run(launch: Launch, *, tail_bytes: int, engine_cli: str | None = None, on_start=None) -> Result:
    """Run one executor to its end; ``on_start(running)`` is called once it has started."""
    running = Running(launch, engine_cli=engine_cli)
    try:
        running.start()
    except FileNotFoundError as exc:
        launch.stderr.write_text(f"cannot run {launch.argv[0]!r}: {exc.strerror}\n")
        return Result(NOT_FOUND, running.started_at, now(), "", tail(launch.stderr, tail_bytes))
    start = running.started_at
    if on_start is not None:
        on_start(running)
    returncode = running.wait()
    end = now()
    if running.proc is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(running.proc.pid, signal.SIGKILL)  # stragglers left in the group
    if running.stopped:
        running.remove_container()
    code = exit_code_of(returncode) if returncode is not None else 128 + signal.SIGKILL
    return Result(
        code, start, end, tail(launch.stdout, tail_bytes), tail(launch.stderr, tail_bytes),
        cancelled=running.stopped,
    )
