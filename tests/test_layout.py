"""poiesis.layout: the task directory, the wildcard rules and what executors see (pure, no I/O)."""

from __future__ import annotations

import fnmatch
import posixpath
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from poiesis import layout
from poiesis.layout import Mount
from tests.tasks import paths_task

ROOT = Path("/transfer")

# -- the task directory ----------------------------------------------------------


def test_task_directory_layout() -> None:
    """P lives at ROOT/files/P; the output filer's reports live in ROOT/.poiesis."""
    assert layout.host_path(ROOT, "/data/in.txt") == Path("/transfer/files/data/in.txt")
    assert layout.volume_path("/data/in.txt") == "files/data/in.txt"
    assert layout.files_root(ROOT) == Path("/transfer/files")
    assert layout.outputs_file(ROOT) == Path("/transfer/.poiesis/outputs.json")
    assert layout.output_types_file(ROOT) == Path("/transfer/.poiesis/output_types.json")
    assert layout.stream_file(ROOT, 2, "stderr") == Path("/transfer/.poiesis/2.stderr")


@pytest.mark.parametrize("path", ["/", "//", "/.", "/a/..", "relative", ""])
def test_root_and_relative_paths_have_no_place(path: str) -> None:
    """The root directory and relative paths are refused with LayoutError (a ValueError)."""
    with pytest.raises(layout.LayoutError):
        layout.host_path(ROOT, path)


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/a//b/", "/a/b"), ("//a", "/a"), ("/a/./b", "/a/b"), ("/a/b/../c", "/a/c"), ("/", "/")],
)
def test_normalize(path: str, expected: str) -> None:
    """Absolute paths lose '.', '..', repeated and trailing slashes; a leading '//' is one '/'."""
    assert layout.normalize(path) == expected


SEGMENT = st.text(alphabet="ab.-_ x", min_size=1, max_size=4)
ABSOLUTE = st.lists(st.one_of(SEGMENT, st.sampled_from(["..", ".", ""])), min_size=1, max_size=5).map(
    lambda parts: "/" + "/".join(parts)
)


@given(ABSOLUTE)
def test_host_path_stays_in_the_files_directory_and_inverts(path: str) -> None:
    """Every absolute path but the root lands under ROOT/files, and tes_path_of gives its normal form back."""
    if layout.normalize(path) == "/":
        return
    local = layout.host_path(ROOT, path)
    assert local.is_relative_to(layout.files_root(ROOT)) and local != layout.files_root(ROOT)
    assert layout.tes_path_of(ROOT, local) == layout.normalize(path)


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("/data/x", None),
        ("data/x", "f must be an absolute path, got 'data/x'"),
        (None, "f must be an absolute path, got None"),
        ("/data/../etc", "f must not contain '..', got '/data/../etc'"),
        ("/", "f must not be the root directory"),
        ("//", "f must not be the root directory"),
    ],
)
def test_path_problem(path: Any, problem: str | None) -> None:
    """A task path must be absolute, without '..', and not the root directory; the field is named."""
    assert layout.path_problem("f", path) == problem


def test_within_compares_whole_names() -> None:
    """'/x' holds '/x' and '/x/y', not '/xy'; '/' holds everything."""
    assert layout.within("/x", "/x") and layout.within("/x/y", "/x") and layout.within("/x", "/")
    assert not layout.within("/xy", "/x")


# -- wildcards ---------------------------------------------------------------------


@pytest.mark.parametrize(("path", "wild"), [("/a/*.txt", True), ("/a/?", True), ("/a/[ab]", True), ("/a/b.txt", False)])
def test_wildcard_detection(path: str, wild: bool) -> None:
    """Only POSIX pattern characters make a path a wildcard."""
    assert layout.has_wildcard(path) is wild


@pytest.mark.parametrize(
    ("pattern", "base"),
    [("/res/*.txt", "/res"), ("/a/b*/c.txt", "/a"), ("/a/b/[xy]/*", "/a/b"), ("/*.txt", "/"), ("/a//b/?", "/a/b")],
)
def test_wildcard_base(pattern: str, base: str) -> None:
    """The base is the literal directory before the first part holding a pattern character."""
    assert layout.wildcard_base(pattern) == base


#: pattern parts and a name each one matches
PARTS = {"a": "a", "bc": "bc", "*.txt": "q.txt", "?": "z", "[ab]x": "bx", "*": "anything"}


@given(st.lists(st.sampled_from(sorted(PARTS)), min_size=1, max_size=5))
def test_every_match_lies_under_the_wildcard_base(parts: list[str]) -> None:
    """Whatever a pattern matches lies under its base, which holds no pattern character."""
    pattern, match = "/" + "/".join(parts), "/" + "/".join(PARTS[p] for p in parts)
    assert all(fnmatch.fnmatchcase(PARTS[p], p) for p in parts)
    base = layout.wildcard_base(pattern)
    assert not layout.has_wildcard(base)
    assert layout.within(match, base)


@pytest.mark.parametrize(
    ("path", "prefix", "problem"),
    [
        ("/w/*.txt", "/w/", None),
        ("/w/*.txt", "/", None),
        ("/w/*.txt", None, "path_prefix is required when path has wildcards"),
        ("/w/*.txt", "", "path_prefix is required when path has wildcards"),
        ("/w/*.txt", "/other/", "path_prefix must be a literal prefix of path"),
        ("/w/*.txt", "/w/*", "path_prefix must be a literal prefix of path"),
    ],
)
def test_prefix_problem(path: str, prefix: str | None, problem: str | None) -> None:
    """path_prefix is required with wildcards and must be a literal prefix of the path."""
    assert layout.prefix_problem(path, prefix) == problem


def test_prefix_problem_names_the_field() -> None:
    """The API names the output it refuses."""
    assert layout.prefix_problem("/w/*", None, field="outputs[3].path") == (
        "outputs[3].path_prefix is required when outputs[3].path has wildcards"
    )


def test_strip_prefix() -> None:
    """A match loses its path_prefix; a match without it is an error, not a guessed URL."""
    assert layout.strip_prefix("/w/d/a.txt", "/w/") == "d/a.txt"
    with pytest.raises(layout.LayoutError, match="does not start with path_prefix"):
        layout.strip_prefix("/v/a.txt", "/w/")


# -- what executors see ---------------------------------------------------------------


def test_mounts_cover_every_path_minimally() -> None:
    """Inputs map themselves, outputs their parent, stdout/stderr their parent; covered paths are dropped."""
    task = {
        "inputs": [{"path": "/data/in.txt"}, {"path": "/ref/genome.fa"}, {"path": "/db", "type": "DIRECTORY"}],
        "outputs": [
            {"path": "/data/out.txt"},
            {"path": "/res/*.txt", "path_prefix": "/"},
            {"path": "/db/sub/new", "type": "DIRECTORY"},
        ],
        "volumes": ["/scratch"],
        "executors": [{"stdout": "/logs/out", "stderr": "/scratch/err"}],
    }
    assert layout.mounts(paths_task(task)) == [
        Mount("/data", is_dir=True),
        Mount("/db", is_dir=True),
        Mount("/logs", is_dir=True),
        Mount("/ref/genome.fa", is_dir=False),
        Mount("/res", is_dir=True),
        Mount("/scratch", is_dir=True),
    ]


def test_a_path_that_is_both_file_and_directory_mounts_the_directory() -> None:
    """An input file at /x and a DIRECTORY output at /x make one directory mount."""
    task = {"inputs": [{"path": "/x"}], "outputs": [{"path": "/x", "type": "DIRECTORY"}]}
    assert layout.mounts(paths_task(task)) == [Mount("/x", is_dir=True)]


@pytest.mark.parametrize(
    ("task", "field"),
    [
        ({"outputs": [{"path": "/out.txt", "type": "FILE"}]}, "outputs[0].path /out.txt"),
        ({"outputs": [{"path": "/out"}]}, "outputs[0].path /out"),
        ({"outputs": [{"path": "/*.txt", "path_prefix": "/"}]}, "outputs[0].path /*.txt"),
        ({"outputs": [{"path": "/d*/x", "path_prefix": "/"}]}, "outputs[0].path /d*/x"),
        ({"executors": [{"stdout": "/o"}]}, "executors[0].stdout /o"),
        ({"executors": [{}, {"stderr": "/e"}]}, "executors[1].stderr /e"),
    ],
)
def test_paths_needing_root_are_problems(task: dict[str, Any], field: str) -> None:
    """A path whose directory is / is named by mount_problems, and mounts refuses it."""
    problems = layout.mount_problems(paths_task(task))
    assert len(problems) == 1 and problems[0].startswith(f"{field} lies directly under /")
    with pytest.raises(layout.LayoutError, match="directly under /"):
        layout.mounts(paths_task(task))


def test_untyped_output_problem_suggests_directory() -> None:
    """An output without type may be a directory the user meant: the message says how to say so."""
    assert "give type DIRECTORY" in layout.mount_problems(paths_task({"outputs": [{"path": "/out"}]}))[0]
    assert "give type DIRECTORY" not in layout.mount_problems(paths_task({"outputs": [{"path": "/o", "type": "FILE"}]}))[0]


def test_directory_output_and_file_input_at_top_level_are_fine() -> None:
    """/out as a DIRECTORY and /in.txt as a FILE input mount themselves, not /."""
    task = {"inputs": [{"path": "/in.txt"}], "outputs": [{"path": "/out", "type": "DIRECTORY"}]}
    assert layout.mount_problems(paths_task(task)) == []
    assert layout.mounts(paths_task(task)) == [Mount("/in.txt", is_dir=False), Mount("/out", is_dir=True)]


# -- properties of mounts over generated tasks ------------------------------------------

NAME = st.sampled_from(["a", "b", "ab", "x"])
PATH = st.lists(NAME, min_size=1, max_size=3).map(lambda parts: "/" + "/".join(parts))
TYPE = st.sampled_from([None, "FILE", "DIRECTORY"])
INPUT = st.builds(lambda p, t: {"path": p, **({"type": t} if t else {})}, PATH, TYPE)
WILD = st.builds(lambda p, n: {"path": f"{p}/{n}", "path_prefix": p}, PATH, st.sampled_from(["*.txt", "?", "a*/b"]))
OUTPUT = st.one_of(INPUT, WILD)
EXECUTOR = st.fixed_dictionaries({}, optional={"stdout": PATH, "stderr": PATH})
TASK = st.fixed_dictionaries(
    {},
    optional={
        "inputs": st.lists(INPUT, max_size=3),
        "outputs": st.lists(OUTPUT, max_size=3),
        "volumes": st.lists(PATH, max_size=2),
        "executors": st.lists(EXECUTOR, max_size=2),
    },
)


def _dirs_needed(task: dict[str, Any]) -> list[str]:
    """The directories a task's executors must see, spelled out independently of layout._needs."""
    needed = [i["path"] for i in task.get("inputs", []) if i.get("type") == "DIRECTORY"]
    for o in task.get("outputs", []):
        if "path_prefix" in o:
            needed.append(o["path_prefix"])  # in these tasks the prefix is the literal directory
        else:
            needed.append(o["path"] if o.get("type") == "DIRECTORY" else posixpath.dirname(o["path"]))
    needed += task.get("volumes", [])
    needed += [posixpath.dirname(e[s]) for e in task.get("executors", []) for s in ("stdout", "stderr") if s in e]
    return needed


@given(TASK)
def test_mounts_make_every_path_visible_with_no_mount_twice(task: dict[str, Any]) -> None:
    """Every needed directory and input file lies in a mount; no mount lies in another; '/' never appears."""
    needed = _dirs_needed(task)
    if "/" in needed:
        assert layout.mount_problems(paths_task(task))
        with pytest.raises(layout.LayoutError):
            layout.mounts(paths_task(task))
        return
    assert layout.mount_problems(paths_task(task)) == []
    found = layout.mounts(paths_task(task))
    dirs = [m.path for m in found if m.is_dir]
    for path in needed:
        assert any(layout.within(path, d) for d in dirs), path
    for item in task.get("inputs", []):
        assert any(layout.within(item["path"], d) for d in dirs) or Mount(item["path"], is_dir=False) in found
    paths = [m.path for m in found]
    assert paths == sorted(set(paths)) and "/" not in paths
    for m in found:
        assert not any(d != m.path and layout.within(m.path, d) for d in dirs), m
    assert set(paths) <= set(needed) | {i["path"] for i in task.get("inputs", [])}
