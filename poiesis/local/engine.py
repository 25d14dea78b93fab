"""How one executor is started: as a container (podman/docker CLI) or as a host process.

``plan_container`` and ``plan_process`` are pure builders returning a
``Launch`` (argv, cwd, environment, stdio files); ``executor`` starts it.
``detect`` finds the mode to use. Nothing here touches the database.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from generated.models import TesExecutor, TesResources
from poiesis import images, layout, units
from poiesis.local import paths
from poiesis.local.gpus import options as gpus_options

log = logging.getLogger(__name__)

PROCESS = "process"
#: Label on every container the backend starts; its value is the task id.
TASK_LABEL = "poiesis.task"
#: PATH of every host process: a standard one, never the server's (which leads into its virtualenv).
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#: Run inside the new mount namespace with $0 = ROOT: bind ROOT/tmp over /tmp, then become the
#: command. A ROOT below /tmp would vanish under that mount, so it is first bound again at its own
#: path inside ROOT/tmp (only this namespace sees the extra mounts; they end with it).
_PRIVATE_TMP = (
    'set -e; case "$0" in /tmp/*) r="$0/tmp/${0#/tmp/}"; mkdir -p "$r"; mount --bind "$0" "$r";; esac;'
    ' mount --rbind "$0/tmp" /tmp; exec "$@"'
)
_PID_NS = ["unshare", "--pid", "--fork", "--kill-child"]
_MOUNT_NS = ["--mount", "--mount-proc", "--propagation", "private"]


@dataclass(frozen=True)
class Mode:
    """Where executors run: ``process``, or a container engine CLI (name and path)."""

    name: str
    cli: str | None = None
    pull: str = "never"
    network: str = "none"
    #: Process mode only: wrap commands in ``unshare --pid --fork --kill-child`` so that
    #: killing the wrapper kills every process the command started, daemons included.
    pid_namespace: bool = False
    #: Process mode only: also a mount namespace with a fresh /proc (only the command's own
    #: processes, not the server's environment) and the task's tmp directory as /tmp.
    private_mounts: bool = False

    @property
    def isolated(self) -> bool:
        return self.name != PROCESS


@dataclass(frozen=True)
class Launch:
    """Everything needed to start one executor."""

    argv: list[str]
    #: the process's environment; None: this process's own (the container CLI needs it, executors never get it)
    env: dict[str, str] | None
    cwd: Path | None = None
    stdin: Path | None = None
    stdout: Path = Path("/dev/null")
    stderr: Path = Path("/dev/null")
    container: str | None = None
    #: The task root the stdio paths lie beneath: opened without following links.
    root: Path | None = None
    #: Container mode: the file ``--env-file`` names, written (0600) just before the start and removed at the end.
    env_file: Path | None = None
    #: its content: the executor's variables, never on a command line (repr=False: never logged either)
    env_text: str = field(default="", repr=False)


class ImageRefused(ValueError):
    """The executor's image is no valid image reference: it is never put on an engine's command line."""


class EnvRefused(ValueError):
    """An executor variable that an env file cannot carry as it is (a newline in its value, a bad name...)."""


#: podman and docker read an env file with Go's bufio.Scanner: a longer line is an error
ENV_LINE_MAX = 65535


def env_file_problem(index: int, env: dict[str, str] | None) -> str | None:
    """Why executor ``index``'s ``env`` cannot be written to an ``--env-file`` as it is; None when it can.

    podman 4.3 and docker read one ``NAME=VALUE`` a line: the name is trimmed
    on the left and may hold no white space, ``#`` starts a comment, a value
    cannot hold a newline and loses a final carriage return, and a line is at
    most 64 KiB. The rest of a value (leading and trailing spaces, quotes, '=')
    arrives as given.
    """
    for name, value in sorted((env or {}).items()):
        what = f"executors[{index}].env[{name!r}]"
        if not name or "=" in name or name.startswith("#") or any(c.isspace() or c == "\0" for c in name):
            return f"{what}: a variable name must be non-empty, without '=', white space or a leading '#'"
        if "\n" in value or "\0" in value or value.endswith("\r"):
            return (f"{what}: the value holds a newline or NUL, or ends with a carriage return, which the container "
                    "engine's env file cannot carry")
        try:
            size = len(f"{name}={value}".encode())
        except UnicodeEncodeError:
            return f"{what}: not valid Unicode text"
        if size > ENV_LINE_MAX:
            return f"{what}: longer than the container engine's env file allows ({ENV_LINE_MAX} bytes a variable)"
    return None


def container_name(task_id: str, index: int) -> str:
    """The name of executor ``index``'s container (unique per task and executor)."""
    return f"poiesis-{task_id}-{index}"


def plan_container(
    executor: TesExecutor,
    *,
    mode: Mode,
    task_id: str,
    index: int,
    root: Path,
    mapped: Sequence[layout.Mount],
    stdio: tuple[Path | None, Path, Path],
    resources: TesResources | None = None,
    gpus: int = 0,
) -> Launch:
    """``podman|docker run`` for one executor: the image, its argv, mounts, workdir, env (through a file), limits, GPUs.

    Every value taken from the task is given as ``--option=value`` (never as a
    separate argument that could itself read as an option), and ``--`` ends the
    options before the image: whatever the task says, it cannot add an option
    to the run (``--volume=/:/host``, ``--privileged``). An image that is not a
    valid reference (``poiesis.images``) raises ``ImageRefused``: the API refuses
    such tasks, and this check holds whatever way a task reached the backend.
    The executor's ``env`` goes into ``ROOT/.poiesis/env-<index>`` (``--env-file``;
    ``executor.run`` writes it 0600 and removes it), never onto the command line;
    a variable such a file cannot carry raises ``EnvRefused``. The task's ``cpu_cores`` and
    ``ram_gb`` become ``--cpus`` and ``--memory`` (bytes), rounded up exactly (``poiesis.units``).
    """
    problem = images.reference_problem(f"executors[{index}].image", executor.image)
    if problem is not None:
        raise ImageRefused(problem)
    name = container_name(task_id, index)
    argv = [
        str(mode.cli), "run", "--rm", f"--name={name}", f"--label={TASK_LABEL}={task_id}",
        f"--pull={mode.pull}", f"--network={mode.network}", *limit_options(resources),
    ]
    for m in mapped:
        argv.append(f"--volume={layout.host_path(root, m.path)}:{m.path}:rw")
    if executor.workdir:
        argv.append(f"--workdir={executor.workdir}")
    env_file, env_text = None, ""
    if executor.env:
        # never --env NAME=VALUE: every local user sees a process's command line (/proc/*/cmdline, ps)
        problem = env_file_problem(index, executor.env)
        if problem is not None:
            raise EnvRefused(problem)
        env_file = layout.state_dir(root) / f"env-{index}"
        env_text = "".join(f"{key}={value}\n" for key, value in sorted(executor.env.items()))
        argv.append(f"--env-file={env_file}")
    stdin = stdio[0]
    if stdin is not None:
        argv.append("--interactive")
    argv += gpus_options(mode.name, gpus)  # the count was checked against the machine's (local/gpus.py)
    command = executor.command
    argv += [f"--entrypoint={command[0]}", "--", executor.image, *command[1:]]
    # env None: the container CLI inherits this process's environment (its socket, XDG_RUNTIME_DIR, ...)
    return Launch(
        argv=argv, env=None, stdin=stdin, stdout=stdio[1], stderr=stdio[2], container=name, root=root,
        env_file=env_file, env_text=env_text,
    )


#: The least ``--cpus`` podman and docker take: a CFS quota of 1 ms a 100 ms period (0.001 is refused).
LEAST_CPUS = 0.01


def limit_options(resources: TesResources | None) -> list[str]:
    """``--cpus`` and ``--memory`` of a container for the task's cpu_cores and ram_gb (none for what it does not ask).

    Fewer cores than ``LEAST_CPUS`` are rounded up to it, as TES allows for what a scheduler cannot give.
    """
    options = []
    if resources is not None and resources.cpu_cores:
        options.append(f"--cpus={units.cpus_option(max(resources.cpu_cores, LEAST_CPUS))}")
    if resources is not None and resources.ram_gb:
        options.append(f"--memory={units.gib_bytes(resources.ram_gb)}")
    return options


def plan_process(
    executor: TesExecutor,
    *,
    mode: Mode,
    root: Path,
    mapped: Sequence[layout.Mount],
    stdio: tuple[Path | None, Path, Path],
    path: str | None = None,
) -> Launch:
    """A host process for one executor: TES paths rewritten to ROOT/files, a clean environment.

    The image is not used. The command, environment values and workdir have
    every mapped path (and the workdir) replaced by its host path; the
    environment holds only PATH (``path``, else a standard one), HOME and TMPDIR plus the
    executor's own variables, never the server's. With ``private_mounts``
    the command sees its own /proc and ROOT/tmp as /tmp.
    """
    workdir = executor.workdir
    rewrite = paths.rewriter([m.path for m in mapped] + ([layout.normalize(workdir)] if workdir else []), root=root)
    argv = [rewrite(arg) for arg in executor.command]
    if mode.private_mounts:
        argv = [*_PID_NS, *_MOUNT_NS, "--", "/bin/sh", "-c", _PRIVATE_TMP, str(root), *argv]
    elif mode.pid_namespace:
        argv = [*_PID_NS, "--", *argv]
    cwd = layout.host_path(root, workdir) if workdir else layout.files_root(root)
    env = {
        "PATH": path or DEFAULT_PATH,
        "HOME": str(cwd),
        "TMPDIR": str(root / layout.TMP_DIR),
    }
    env.update({key: rewrite(str(value)) for key, value in (executor.env or {}).items()})
    return Launch(argv=argv, env=env, cwd=cwd, stdin=stdio[0], stdout=stdio[1], stderr=stdio[2], root=root)


def _answers(argv: list[str]) -> bool:
    try:
        done = subprocess.run(argv, capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def engine_answers(cli: str) -> bool:
    """Whether the engine behind ``cli`` can run containers (a docker CLI with no daemon cannot)."""
    return _answers([cli, "info", "--format", "{{.ID}}" if Path(cli).name == "docker" else "{{.Host.Arch}}"])


def pid_namespace_works() -> bool:
    """Whether ``unshare --pid --fork --kill-child`` runs here (root, or user namespaces)."""
    return shutil.which("unshare") is not None and _answers([*_PID_NS, "true"])


def private_mounts_work() -> bool:
    """Whether a mount namespace with a fresh /proc and a bind-mounted /tmp can be made here (root)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="poiesis-probe-") as root:
        Path(root, "tmp").mkdir()
        return shutil.which("unshare") is not None and _answers(
            [*_PID_NS, *_MOUNT_NS, "--", "/bin/sh", "-c", _PRIVATE_TMP, root, "true"]
        )


def process_mode() -> Mode:
    """Process mode with whatever isolation this machine allows."""
    return Mode(PROCESS, pid_namespace=pid_namespace_works(), private_mounts=private_mounts_work())


def detect(*, engine: str, pull: str, network: str) -> Mode:
    """The mode to run executors in: the configured engine, else the first that answers, else process.

    A configured engine that does not answer is an error: silently running
    unisolated when containers were asked for would be worse than not starting.
    """
    if engine == PROCESS:
        return process_mode()
    names = ("podman", "docker") if engine == "auto" else (engine,)
    for name in names:
        cli = shutil.which(name)
        if cli and engine_answers(cli):
            return Mode(name, cli=cli, pull=pull, network=network)
        if engine != "auto":
            raise RuntimeError(f"POIESIS_LOCAL_ENGINE={engine}: `{name} info` does not answer")
        log.info("container engine %s %s", name, "does not answer" if cli else "not found")
    return process_mode()
