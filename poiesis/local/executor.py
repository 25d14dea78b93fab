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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from poiesis import beneath
from poiesis.local.engine import Launch
from poiesis.sanitize import storable

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
    #: stopped because the task's time limit came (``run``'s ``timeout``), not by a cancel
    timed_out: bool = False


def now() -> datetime:
    return datetime.now(UTC)


def tail(fd: int | None, limit: int) -> str:
    """The last ``limit`` bytes of an open file as storable text (``sanitize``, as TRec's tails); '' if none.

    Read from the descriptor the executor wrote to, never by path: the
    executor may have replaced the path with a link meanwhile.
    """
    if fd is None:
        return ""
    try:
        size = os.fstat(fd).st_size
        data = os.pread(fd, limit, max(0, size - limit))
    except OSError:
        return ""
    return storable(data, limit, keep="tail")


def _open(launch: Launch, path: Path, *, write: bool) -> int:
    """A descriptor of one stdio file: beneath the task root without following links, else as given."""
    if launch.root is not None:
        return beneath.open_file(launch.root, path, write=write)
    return os.open(path, (os.O_RDWR | os.O_CREAT | os.O_TRUNC if write else os.O_RDONLY) | os.O_CLOEXEC, 0o644)


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
        self.timed_out = False
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = now()
        #: stdout and stderr as opened for the executor; read back by ``tail``, closed by ``close``.
        self.out_fds: tuple[int | None, int | None] = (None, None)

    def start(self) -> None:
        launch = self.launch
        argv = launch.argv
        if _PDEATHSIG:
            argv = [_PDEATHSIG, "--pdeathsig", "KILL", "--", *argv]
        try:
            stdout = _open(launch, launch.stdout, write=True)
            self.out_fds = (stdout, None)
            stderr = _open(launch, launch.stderr, write=True)
            self.out_fds = (stdout, stderr)
            stdin = _open(launch, launch.stdin, write=False) if launch.stdin else subprocess.DEVNULL
        except FileNotFoundError as exc:  # not the command: a stdio file an executor removed
            raise beneath.Unsafe(f"{exc.filename or 'a stdio file'} vanished before the executor started") from exc
        if launch.env_file is not None:
            write_private(launch.env_file, launch.env_text)
        with contextlib.ExitStack() as stack:
            if launch.stdin:
                stack.callback(os.close, stdin)
            with self._lock:
                if self._stopped:
                    return
                self.started_at = now()
                self.proc = subprocess.Popen(
                    argv, cwd=launch.cwd, env=launch.env, stdin=stdin, stdout=stdout, stderr=stderr,
                    start_new_session=True, close_fds=True,
                )

    def wait(self, timeout: float | None = None) -> int | None:
        """The process's return code, or None if it was stopped before it started.

        After ``timeout`` seconds (None: no limit) it is stopped (``stop``) and marked ``timed_out``.
        """
        if self.proc is None:
            return None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.timed_out = True
            self.stop()
            return self.proc.wait()

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

    def close(self) -> None:
        """Close the stdout and stderr descriptors."""
        for fd in self.out_fds:
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.out_fds = (None, None)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a new file only this user can read (0600), never through a link planted at ``path``."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # a leftover of an earlier run of this task
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def run(launch: Launch, *, tail_bytes: int, engine_cli: str | None = None,
        on_start: Callable[[Running], None] | None = None, timeout: float | None = None) -> Result:
    """Run one executor to its end; ``on_start(running)`` is called once it has started.

    ``timeout``: seconds after its start at which it is stopped like a cancel, but its
    result says ``timed_out`` (None: no limit).
    """
    running = Running(launch, engine_cli=engine_cli)
    try:
        return _run(running, tail_bytes=tail_bytes, on_start=on_start, timeout=timeout)
    finally:
        running.close()
        if launch.env_file is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(launch.env_file)


def _run(running: Running, *, tail_bytes: int, on_start: Callable[[Running], None] | None,
         timeout: float | None) -> Result:
    launch = running.launch
    try:
        running.start()
    except FileNotFoundError as exc:
        message = f"cannot run {launch.argv[0]!r}: {exc.strerror}\n"
        err = running.out_fds[1]
        if err is not None:
            os.write(err, message.encode())
        return Result(NOT_FOUND, running.started_at, now(), "", message)
    start = running.started_at
    if on_start is not None:
        on_start(running)
    returncode = running.wait(timeout)
    end = now()
    if running.proc is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(running.proc.pid, signal.SIGKILL)  # stragglers left in the group
    if running.stopped:
        running.remove_container()
    code = exit_code_of(returncode) if returncode is not None else 128 + signal.SIGKILL
    out, err = running.out_fds
    return Result(code, start, end, tail(out, tail_bytes), tail(err, tail_bytes),
                  cancelled=running.stopped and not running.timed_out, timed_out=running.timed_out)
