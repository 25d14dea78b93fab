"""The local backend and the Kubernetes Pod give executors the same paths, for every case in one table.

Each case goes through what each backend really builds: local container
mode's ``podman run --volume`` arguments, local process mode's path
rewriting, and the executor ``volumeMounts`` of the Kubernetes Pod spec.
A case that cannot work is refused by the API at CreateTask, and both
backends refuse it too if it gets that far. The cases where the backends
used to disagree are marked "was:".
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given

from poiesis import layout
from poiesis.api.tes import validate
from poiesis.config.kube import KubeSettings
from poiesis.kube import build
from poiesis.local import engine
from tests.tasks import tes_executor, tes_task
from tests.test_layout import TASK as GENERATED_TASK

ROOT = Path("/w/t1")
URL = "s3://b/o"
CFG = KubeSettings(namespace="ns", image="poiesis:test")


def _task(**fields: Any) -> dict[str, Any]:
    executors = fields.pop("executors", [{}])
    return {"executors": [{"image": "img:1", "command": ["true"], **e} for e in executors], **fields}


#: (case, task, what every executor sees: TES path -> "dir" or "file")
AGREE = [
    ("file input mounts itself", _task(inputs=[{"path": "/usr/local/bin/tool", "url": URL}]),
     {"/usr/local/bin/tool": "file"}),
    ("directory input", _task(inputs=[{"path": "/ref", "url": URL, "type": "DIRECTORY"}]), {"/ref": "dir"}),
    ("file output mounts its parent", _task(outputs=[{"path": "/out/r.txt", "url": URL, "type": "FILE"}]),
     {"/out": "dir"}),
    ("untyped output mounts its parent", _task(outputs=[{"path": "/out/r.txt", "url": URL}]), {"/out": "dir"}),
    ("directory output", _task(outputs=[{"path": "/out/d", "url": URL, "type": "DIRECTORY"}]), {"/out/d": "dir"}),
    ("top-level directory output", _task(outputs=[{"path": "/out", "url": URL, "type": "DIRECTORY"}]),
     {"/out": "dir"}),
    ("top-level file input", _task(inputs=[{"path": "/in.txt", "content": "x"}]), {"/in.txt": "file"}),
    ("wildcard, prefix = its directory", _task(outputs=[{"path": "/res/*.txt", "url": URL, "path_prefix": "/res/"}]),
     {"/res": "dir"}),
    # was: kube mounted /work (the prefix), hiding the image's /work; local mounted /work/logs
    ("wildcard, shorter prefix", _task(outputs=[{"path": "/work/logs/*.log", "url": URL, "path_prefix": "/work/"}]),
     {"/work/logs": "dir"}),
    # was: kube mounted nothing (the prefix '/' was dropped): the matches never reached the volume
    ("wildcard, prefix /", _task(outputs=[{"path": "/w/*.txt", "url": URL, "path_prefix": "/"}]), {"/w": "dir"}),
    # was: kube mounted /w/a (a directory where a file name starts): /w/ab.txt never reached the volume
    ("wildcard, prefix ends mid-name", _task(outputs=[{"path": "/w/a*.txt", "url": URL, "path_prefix": "/w/a"}]),
     {"/w": "dir"}),
    # was: kube mounted the ignored path_prefix /res/a as a directory instead of /res
    ("plain output with a path_prefix", _task(outputs=[{"path": "/res/a.txt", "url": URL, "path_prefix": "/res/a"}]),
     {"/res": "dir"}),
    # was: local did not map stdout/stderr directories, so the next executor could not read them
    ("stdout and stderr files", _task(executors=[{"stdout": "/logs/out", "stderr": "/err/e"}, {}]),
     {"/err": "dir", "/logs": "dir"}),
    ("volumes", _task(volumes=["/scratch", "/tmp/x/"]), {"/scratch": "dir", "/tmp/x": "dir"}),
    ("covered paths are not mounted again",
     _task(inputs=[{"path": "/data/in.txt", "url": URL}], outputs=[{"path": "/data/sub/o", "url": URL}],
           volumes=["/data"], executors=[{"stdout": "/data/o.log"}]),
     {"/data": "dir"}),
    ("/x does not cover /xy", _task(volumes=["/x", "/xy"], inputs=[{"path": "/xyz", "url": URL}]),
     {"/x": "dir", "/xy": "dir", "/xyz": "file"}),
    ("file input and directory output at one path", _task(
        inputs=[{"path": "/x", "url": URL}], outputs=[{"path": "/x", "url": URL, "type": "DIRECTORY"}]),
     {"/x": "dir"}),
    ("paths are normalized", _task(volumes=["/a//b/./c/"], inputs=[{"path": "//d/e", "url": URL}]),
     {"/a/b/c": "dir", "/d/e": "file"}),
]

#: (case, task, the field the refusal names). was: local ended these SYSTEM_ERROR after start,
#: kube dropped the mount, so the executor wrote into its image and the output filer found nothing.
REFUSED = [
    ("file output directly under /", _task(outputs=[{"path": "/out.txt", "url": URL, "type": "FILE"}]),
     "outputs[0].path"),
    ("untyped output directly under /", _task(outputs=[{"path": "/out", "url": URL}]), "outputs[0].path"),
    ("wildcard directly under /", _task(outputs=[{"path": "/*.txt", "url": URL, "path_prefix": "/"}]),
     "outputs[0].path"),
    ("wildcard in the first part", _task(outputs=[{"path": "/d*/x", "url": URL, "path_prefix": "/"}]),
     "outputs[0].path"),
    ("stdout directly under /", _task(executors=[{"stdout": "/stdout.txt"}]), "executors[0].stdout"),
    ("stderr directly under /", _task(executors=[{}, {"stderr": "/err"}]), "executors[1].stderr"),
]


def _refusals(task: dict[str, Any]) -> list[str]:
    """What CreateTask refuses: the document's rules, then the paths of the task it makes."""
    return validate.problems(task) or layout.mount_problems(tes_task(task))


def _local(task: dict[str, Any]) -> dict[str, str]:
    """What local container mode mounts: TES path -> its host path relative to ROOT."""
    mapped = layout.mounts(tes_task(task))  # what the runner computes for every executor
    seen = {}
    for ex_index, ex in enumerate(task["executors"]):
        argv = engine.plan_container(
            tes_executor(ex), mode=engine.Mode("podman", cli="podman"), task_id="t1", index=ex_index, root=ROOT,
            mapped=mapped, stdio=(None, Path("/o"), Path("/e")),
        ).argv
        volumes = [arg.removeprefix("--volume=") for arg in argv if arg.startswith("--volume=")]
        mounted = {}
        for volume in volumes:
            host, path, _mode = volume.split(":")
            mounted[path] = str(Path(host).relative_to(ROOT))
        assert seen in ({}, mounted), "every executor sees the same paths"
        seen = mounted
    return seen


def _kube(task: dict[str, Any]) -> dict[str, str]:
    """What the Pod's executors mount: TES path -> subPath on the task volume."""
    pod = build.build_pod_spec("t1", tes_task(task), CFG)
    executors = [c for c in pod["initContainers"] if c["name"].startswith("executor-")]
    mounts = [{m["mountPath"]: m["subPath"] for m in c["volumeMounts"]} for c in executors]
    assert all(m == mounts[0] for m in mounts), "every executor sees the same paths"
    return mounts[0]


def _kinds(task: dict[str, Any]) -> dict[str, str]:
    return {m.path: "dir" if m.is_dir else "file" for m in layout.mounts(tes_task(task))}


@pytest.mark.parametrize(("case", "task", "expected"), AGREE, ids=[c for c, _, _ in AGREE])
def test_both_backends_mount_the_same_paths(case: str, task: dict[str, Any], expected: dict[str, str]) -> None:
    """Local container mode and the Pod mount the same TES paths from the same place in the task directory."""
    assert _refusals(task) == []
    assert _kinds(task) == expected
    assert _local(task) == _kube(task) == {path: f"files{path}" for path in expected}


@pytest.mark.parametrize(("case", "task", "expected"), AGREE, ids=[c for c, _, _ in AGREE])
def test_process_mode_rewrites_every_path_executors_see(case: str, task: dict[str, Any], expected: dict[str, str]) -> None:
    """Process mode rewrites each mounted path (and a path below a mounted directory) to where it lives."""
    below = [f"{p}/f" for p, kind in expected.items() if kind == "dir"]
    command = ["cat", *expected, *below]
    launch = engine.plan_process(
        tes_executor({"image": "img:1", "command": command}), mode=engine.Mode(engine.PROCESS), root=ROOT,
        mapped=layout.mounts(tes_task(task)), stdio=(None, Path("/o"), Path("/e")),
    )
    assert launch.argv == ["cat", *(str(layout.host_path(ROOT, p)) for p in [*expected, *below])]


@pytest.mark.parametrize(("case", "task", "field"), REFUSED, ids=[c for c, _, _ in REFUSED])
def test_paths_needing_root_are_refused_everywhere(case: str, task: dict[str, Any], field: str) -> None:
    """The API names the field; the local runner's mapping and the Pod builder refuse it too."""
    problems = _refusals(task)
    assert len(problems) == 1 and problems[0].startswith(field) and "directly under /" in problems[0]
    with pytest.raises(layout.LayoutError, match="directly under /"):
        layout.mounts(tes_task(task))
    with pytest.raises(layout.LayoutError, match="directly under /"):
        build.build_pod_spec("t1", tes_task(task), CFG)


@given(GENERATED_TASK)
def test_generated_tasks_mount_alike_or_are_refused(task: dict[str, Any]) -> None:
    """For any task the backends mount the same paths, or the API refuses it and both backends would too."""
    task = {**task, "executors": [{"image": "img:1", "command": ["true"], **e} for e in task.get("executors") or [{}]]}
    for item in task.get("inputs", []) + task.get("outputs", []):
        item.setdefault("url", URL)
    if _refusals(task):
        with pytest.raises(layout.LayoutError):
            layout.mounts(tes_task(task))
        with pytest.raises(layout.LayoutError):
            build.build_pod_spec("t1", tes_task(task), CFG)
        return
    assert _local(task) == _kube(task)
    assert all(posixpath.normpath(p) == p for p in _kube(task))
