"""Process mode's path rewriting and launch planning of the local backend (no processes, no database).

Which paths are mapped: tests/test_layout.py; that the backends agree: tests/test_layout_backends.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from poiesis import layout
from poiesis.local import LocalSettings, engine, paths
from tests.tasks import tes_executor

ROOT = Path("/w/t1")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/data", "/w/t1/files/data"),
        ("/data/x.txt", "/w/t1/files/data/x.txt"),
        ("--in=/data/x", "--in=/w/t1/files/data/x"),
        ("cat /data/a >/data/b", "cat /w/t1/files/data/a >/w/t1/files/data/b"),
        ("'/data/a'", "'/w/t1/files/data/a'"),
        ("/database", "/database"),
        ("/old/data/x", "/old/data/x"),
        ("/data.bak", "/data.bak"),
        ("/ref/genome.fa", "/w/t1/files/ref/genome.fa"),
        ("/ref/genome.fa.fai", "/ref/genome.fa.fai"),
        ("/ref/other", "/ref/other"),
    ],
)
def test_rewriter_replaces_mapped_paths_only_as_whole_names(text: str, expected: str) -> None:
    """Mapped paths (and paths below them) are rewritten; longer or unrelated names are left alone."""
    rewrite = paths.rewriter(["/data", "/ref/genome.fa"], root=ROOT)
    assert rewrite(text) == expected


def test_container_plan_mounts_workdir_env_and_argv() -> None:
    """The run command names the image, TES argv via --entrypoint, mounts, workdir, env, no pull, no network."""
    mode = engine.Mode("podman", cli="/usr/bin/podman")
    launch = engine.plan_container(
        tes_executor({"image": "img:1", "command": ["sh", "-c", "echo $A"], "workdir": "/data", "env": {"A": "1"}}),
        mode=mode, task_id="t1", index=2, root=ROOT, mapped=[layout.Mount("/data", is_dir=True)],
        stdio=(Path("/w/t1/files/data/in"), Path("/o"), Path("/e")),
    )
    assert launch.argv == [
        "/usr/bin/podman", "run", "--rm", "--name=poiesis-t1-2", "--label=poiesis.task=t1",
        "--pull=never", "--network=none", "--volume=/w/t1/files/data:/data:rw", "--workdir=/data",
        "--env-file=/w/t1/.poiesis/env-2", "--interactive", "--entrypoint=sh", "--", "img:1", "-c", "echo $A",
    ]
    assert launch.container == "poiesis-t1-2"
    assert (launch.env_file, launch.env_text) == (Path("/w/t1/.poiesis/env-2"), "A=1\n")
    assert "A=1" not in repr(launch), "the environment is never logged with the launch"


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"A": "1", "B": " spaces kept ", "C": "x=y 'q' \"q\"", "D": "", "E": "a\rb"}, None),
        ({"L": "x" * (engine.ENV_LINE_MAX - 2)}, None),
        ({"L": "x" * (engine.ENV_LINE_MAX - 1)}, "longer than"),
        ({"M": "line1\nline2"}, "newline"),
        ({"R": "ends\r"}, "carriage return"),
        ({"N": "a\0b"}, "NUL"),
        ({"#C": "1"}, "name"),
        ({"A B": "1"}, "name"),
        ({"": "1"}, "name"),
    ],
)
def test_env_file_problem_names_what_an_env_file_cannot_carry(env: dict[str, str], problem: str | None) -> None:
    """podman 4.3 / docker env files: one NAME=VALUE a line, no newline, no final CR, 64 KiB a line."""
    found = engine.env_file_problem(3, env)
    if problem is None:
        assert found is None
    else:
        assert found is not None and found.startswith("executors[3].env[") and problem in found, found
        with pytest.raises(engine.EnvRefused, match=r"executors\[0\]\.env"):
            engine.plan_container(
                tes_executor({"image": "img:1", "command": ["true"], "env": env}),
                mode=engine.Mode("podman", cli="podman"), task_id="t1", index=0, root=ROOT, mapped=[],
                stdio=(None, Path("/o"), Path("/e")),
            )


def test_container_plan_refuses_an_image_that_is_an_option() -> None:
    """Whatever reached the backend, an option never gets on the command line as an image."""
    with pytest.raises(engine.ImageRefused, match=r"executors\[1\]\.image: '--privileged'"):
        engine.plan_container(
            tes_executor({"image": "--privileged", "command": ["sh", "img:1"]}),
            mode=engine.Mode("podman", cli="podman"), task_id="t1", index=1, root=ROOT, mapped=[],
            stdio=(None, Path("/o"), Path("/e")),
        )


def test_process_plan_rewrites_paths_and_gives_a_clean_environment() -> None:
    """Process mode: argv/env rewritten, cwd is the mapped workdir, no server variables leak in."""
    launch = engine.plan_process(
        tes_executor({"image": "img:1", "command": ["cat", "/data/in"], "workdir": "/work", "env": {"IN": "/data/in"}}),
        mode=engine.Mode(engine.PROCESS), root=ROOT, mapped=[layout.Mount("/data", is_dir=True)],
        stdio=(None, Path("/o"), Path("/e")),
    )
    assert launch.argv == ["cat", "/w/t1/files/data/in"]
    assert launch.cwd == Path("/w/t1/files/work")
    assert launch.env == {
        "PATH": engine.DEFAULT_PATH, "HOME": "/w/t1/files/work", "TMPDIR": "/w/t1/tmp", "IN": "/w/t1/files/data/in",
    }
    assert ".venv" not in launch.env["PATH"]


def test_process_plan_path_is_the_configured_one_else_the_standard_one() -> None:
    """POIESIS_LOCAL_PATH sets the executors' PATH; unset it is the standard PATH, never the server's."""
    spec = {"image": "img:1", "command": ["true"]}
    common = {"mode": engine.Mode(engine.PROCESS), "root": ROOT, "mapped": [], "stdio": (None, Path("/o"), Path("/e"))}
    assert engine.plan_process(tes_executor(spec), **common, path="/opt/toil/bin:/usr/bin").env["PATH"] == "/opt/toil/bin:/usr/bin"
    assert engine.plan_process(tes_executor(spec), **common).env["PATH"] == engine.DEFAULT_PATH
    assert LocalSettings.from_env({"POIESIS_LOCAL_PATH": "/opt/x/bin"}).process_path == "/opt/x/bin"
    assert LocalSettings.from_env({}).process_path is None


def test_process_plan_with_private_mounts_binds_the_task_tmp_over_tmp() -> None:
    """With a mount namespace the command runs under unshare with a fresh /proc and ROOT/tmp as /tmp."""
    launch = engine.plan_process(
        tes_executor({"image": "img:1", "command": ["ls", "/proc"]}),
        mode=engine.Mode(engine.PROCESS, pid_namespace=True, private_mounts=True), root=ROOT, mapped=[],
        stdio=(None, Path("/o"), Path("/e")),
    )
    assert launch.argv[:4] == ["unshare", "--pid", "--fork", "--kill-child"]
    assert "--mount-proc" in launch.argv
    assert launch.argv[-3:] == ["/w/t1", "ls", "/proc"]
