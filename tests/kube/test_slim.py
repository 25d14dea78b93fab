"""kube.slim keeps every Pod field that a reader reads, and the informer hands on slim Pods page by page.

The readers (pod_outcome and friends, the Recorder, TCtl's decisions, TRec's after-SIGTERM
read) run on full Pods (the tests' fixtures, dressed with what the API server adds:
managedFields, the real container specs from build_job, images and ids) and on their slim
copies, each behind a Mapping that notes every field asked for and what it held: the two
runs must read the same and decide the same. A reader that starts to read a field slim
drops fails here. The executors' env is the exception: the Recorder reads every entry's
name to find the two it uses, so there the tails it makes of them are compared.
"""

from __future__ import annotations

import copy
import json
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from generated.models import TesTask
from poiesis import layout, lifecycle
from poiesis.config.kube import KubeSettings
from poiesis.kube import build
from poiesis.kube.client import Expired
from poiesis.kube.informer import PodInformer
from poiesis.kube.outcome import Ended, ExecutorResult, deleted_outcome, grace_period_s, pod_outcome, pod_progress
from poiesis.kube.slim import slim
from poiesis.record import Recorder
from poiesis.tctl.controller import _task_of
from poiesis.tctl.reconcile import Outcomes, Record, Snapshot, decide, trec_records
from poiesis.trec.run import after_sigterm
from tests.kube.pods import at, done, pod, running, waiting
from tests.kube.test_outcome import CASES
from tests.kube.test_reconcile import COMPLETE_POD, RUNNING_POD, STUCK_POD, TREC_DOWN_POD

RECORDED = Path(__file__).parent / "recorded"
TASK = TesTask.model_validate({"executors": [
    {"image": "alpine:3", "command": ["sh", "-c", "echo hi"], "stdout": "/out/stdout", "stderr": "/out/stderr",
     "env": {"A": "1"}},
    {"image": "alpine:3", "command": ["false"], "ignore_error": True},
    {"image": "alpine:3", "command": ["true"]},
], "inputs": [{"url": "s3://b/k", "path": "/in/k"}], "outputs": [{"url": "s3://b/o", "path": "/out/stdout"}]})
MANAGED = [{"manager": "kubelet", "operation": "Update", "apiVersion": "v1", "time": "2026-01-01T00:00:00Z",
            "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {"f:conditions": {}, "f:initContainerStatuses": {}}},
            "subresource": "status"}]


def dressed(bare: Mapping[str, Any]) -> dict[str, Any]:
    """A fixture Pod with what the API server adds: real container specs, managedFields, ids, images."""
    full = copy.deepcopy(dict(bare))
    spec = build.build_job("t", TASK, KubeSettings(), suspend=False)["spec"]["template"]["spec"]
    real = {c["name"]: c for c in (*spec["initContainers"], *spec["containers"])}
    for key in ("initContainers", "containers"):
        full["spec"][key] = [{**real.get(c["name"], {}), **c} for c in full["spec"].get(key) or []]
    full["spec"] = {**{k: v for k, v in spec.items() if k not in ("initContainers", "containers")},
                    "nodeName": "kwok-node-0", "terminationGracePeriodSeconds": 30, **full["spec"]}
    meta = full["metadata"]
    meta.update(uid="0f6c9a7e-0000-4000-8000-000000000001", managedFields=MANAGED, generateName="poiesis-t-",
                ownerReferences=[{"kind": "Job", "name": "poiesis-t", "uid": "u-1", "controller": True}],
                labels={**build.labels("t", KubeSettings()), **meta.get("labels", {}), "job-name": "poiesis-t"})
    for s in [*(full["status"].get("initContainerStatuses") or []), *(full["status"].get("containerStatuses") or [])]:
        s.update(containerID="containerd://1", imageID="docker.io/x@sha256:0", started="running" in s["state"],
                 lastState={"terminated": {"exitCode": 1, "reason": "Error", "startedAt": at(0), "finishedAt": at(0)}})
    full["status"].update(hostIP="10.0.0.1", podIP="10.244.0.9", qosClass="Burstable")
    return full


def _fixtures() -> dict[str, dict[str, Any]]:
    pods = {name: case[0] for name, case in CASES.items()}
    pods |= {"reconcile complete": COMPLETE_POD, "reconcile running": RUNNING_POD, "trec down": TREC_DOWN_POD,
             "stuck": STUCK_POD}
    pods["trec not started"] = pod(init={"trec": running(1)})
    pods["trec not started"]["status"]["initContainerStatuses"][0]["started"] = False
    pods["deleting with grace 5"] = pod(init={"trec": running(1), "tif": done(1, 2), "executor-0": running(3)},
                                        deleted=at(40))
    pods["deleting with grace 5"]["metadata"]["deletionGracePeriodSeconds"] = 5
    pods["pending for long"] = pod(init={"trec": running(1), "tif": waiting("ContainerCreating")}, start_time=at(0))
    dressed_pods = {name: dressed(p) for name, p in pods.items()}
    dressed_pods["recorded KWOK Pod"] = json.loads((RECORDED / "pod_succeeded_kwok.json").read_text())
    return dressed_pods


FULL = _fixtures()


class Reads(Mapping[str, Any]):
    """A read-only view of a Pod that appends (path, what was there) to ``log`` on every read."""

    def __init__(self, obj: Mapping[str, Any], log: list[tuple[Any, ...]], path: tuple[Any, ...] = ()) -> None:
        self._obj, self._log, self._path = obj, log, path

    def __getitem__(self, key: str) -> Any:
        if key not in self._obj:
            self._log.append((*self._path, key, "<missing>"))
            raise KeyError(key)
        return _wrap(self._obj[key], self._log, (*self._path, key))

    def __iter__(self) -> Iterator[str]:
        self._log.append((*self._path, "<keys>", tuple(self._obj)))
        return iter(self._obj)

    def __len__(self) -> int:
        return len(self._obj)


class ReadList(Sequence[Any]):
    def __init__(self, items: list[Any], log: list[tuple[Any, ...]], path: tuple[Any, ...]) -> None:
        self._items, self._log, self._path = items, log, path

    def __getitem__(self, index: Any) -> Any:
        return _wrap(self._items[index], self._log, (*self._path, index))

    def __len__(self) -> int:
        return len(self._items)


def _wrap(value: Any, log: list[tuple[Any, ...]], path: tuple[Any, ...]) -> Any:
    if isinstance(value, Mapping):
        log.append((*path, "<map>"))
        return Reads(value, log, path)
    if isinstance(value, list):
        log.append((*path, f"<list of {len(value)}>"))
        return ReadList(value, log, path)
    log.append((*path, value))
    return value


class FakeKube:
    def __init__(self) -> None:
        self.tails: list[tuple[str, str]] = []

    def log_tail(self, pod: str, container: str, *, max_bytes: int) -> str:
        self.tails.append((pod, container))
        return "the container log"


class FakeStore:
    def __init__(self) -> None:
        self.logs: list[dict[str, Any]] = []

    def add_executor_log(self, task_id: str, **log: Any) -> None:
        self.logs.append(log)

    def write_terminal_state(self, task_id: str, state: str, **_: Any) -> str:
        return state

    def get_state(self, task_id: str) -> str:
        return "RUNNING"  # the Recorder asks before an end whether the task is cancelling


def _recorded_logs(p: Mapping[str, Any]) -> object:
    """The executor logs the Recorder writes: stdout/stderr from the redirected files (the env says where), else the container log."""
    with tempfile.TemporaryDirectory() as transfer:
        for stream in ("stdout", "stderr"):
            path = layout.host_path(Path(transfer), f"/out/{stream}")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"the {stream} file")
        store, kube = FakeStore(), FakeKube()
        recorder = Recorder(store=store, kube=kube, transfer_dir=Path(transfer), log_tail_bytes=100)  # type: ignore[arg-type]
        ended = Ended(lifecycle.completed(), tuple(ExecutorResult(i, 0, None, None) for i in range(3)))
        recorder.record("t", p, ended)
        return store.logs, kube.tails


def _env(line: tuple[Any, ...]) -> bool:
    """A read inside a container's env: the Recorder reads every entry's name to find the two it uses."""
    return len(line) > 4 and line[0] == "spec" and line[3] == "env"


NOW = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=1)


def _decisions(p: Mapping[str, Any]) -> object:
    """decide() for the Pod's task in each active state, seen live and seen deleted (the Pod itself left out)."""
    out = []
    for state in ("INITIALIZING", "RUNNING", "CANCELING"):
        for pods, gone in (({"t": p}, {}), ({}, {"t": p})):
            snap = Snapshot(now=NOW, tasks={"t": (state, NOW - timedelta(hours=1))}, pods=pods, gone=gone, jobs={},
                            pending_timeout_s=300, queued_grace_s=120)
            out.append([(type(a).__name__, a.task_id, a.outcome if isinstance(a, Record) else None) for a in decide(snap)])
    return out


READERS: dict[str, Callable[[Mapping[str, Any]], object]] = {
    "pod_outcome": pod_outcome,
    "pod_progress": pod_progress,
    "deleted_outcome": deleted_outcome,
    "grace_period_s": grace_period_s,
    "trec_records": trec_records,
    "after_sigterm": after_sigterm,
    "task label": _task_of,
    "phase (pending gauge)": lambda p: (p.get("status") or {}).get("phase"),
    "Recorder executor logs": _recorded_logs,
    "reconcile.decide": _decisions,
    "Outcomes (kept per resourceVersion)": lambda p: Outcomes().of("t", p),
}


@pytest.mark.parametrize("reader", list(READERS))
@pytest.mark.parametrize("name", list(FULL))
def test_readers_read_the_same_from_a_slim_pod(name: str, reader: str) -> None:
    full = FULL[name]
    full_log: list[tuple[Any, ...]] = []
    slim_log: list[tuple[Any, ...]] = []
    full_result = READERS[reader](Reads(full, full_log))
    slim_result = READERS[reader](Reads(slim(full), slim_log))
    assert slim_result == full_result
    assert [line for line in slim_log if not _env(line)] == [line for line in full_log if not _env(line)]


def test_decisions_are_the_same_on_slim_and_full_pods() -> None:
    """All fixture Pods at once, as TCtl holds them, live and deleted."""
    tasks = {name: ("RUNNING", NOW - timedelta(hours=1)) for name in FULL}
    def acts(pods: Mapping[str, Mapping[str, Any]], gone: Mapping[str, Mapping[str, Any]]) -> list[object]:
        snap = Snapshot(now=NOW, tasks=tasks, pods=pods, gone=gone, jobs={})
        return [(type(a).__name__, a.task_id, a.outcome if isinstance(a, Record) else None) for a in decide(snap)]
    half = list(FULL)[::2]
    full_pods = {n: p for n, p in FULL.items() if n in half}
    full_gone = {n: p for n, p in FULL.items() if n not in half}
    assert acts({n: slim(p) for n, p in full_pods.items()}, {n: slim(p) for n, p in full_gone.items()}) == \
        acts(full_pods, full_gone)


def test_slim_keeps_little_and_changes_nothing() -> None:
    full = FULL["success seen by the sidecar (phase still Running)"]
    before = copy.deepcopy(full)
    small = slim(full)
    assert full == before
    assert "managedFields" not in small["metadata"] and "image" not in small["spec"]["initContainers"][2]
    assert small["metadata"]["labels"] == {build.TASK_LABEL: "t"}
    assert small["spec"]["initContainers"][2]["env"] == [{"name": "POIESIS_STDOUT", "value": "/out/stdout"},
                                                         {"name": "POIESIS_STDERR", "value": "/out/stderr"}]
    assert len(json.dumps(small)) * 3 < len(json.dumps(full))


# -- the informer ---------------------------------------------------------------------


def _named(name: str, version: str = "7") -> dict[str, Any]:
    return dressed({**pod(init={"trec": running(1)}), "metadata": {"name": name, "resourceVersion": version,
                                                                   "labels": {build.TASK_LABEL: name}}})


class PagedKube:
    """Lists ``pods`` in pages (the list at resourceVersion 40); ``expire`` continue tokens fail once with 410."""

    def __init__(self, pods: list[dict[str, Any]], expire: int = 0) -> None:
        self.pods, self.expire = pods, expire
        self.requests: list[tuple[int, str | None]] = []
        self.watched_from: list[str] = []

    def list_pods_page(self, *, limit: int, token: str | None = None, **_: str) -> tuple[list[dict[str, Any]], str, str | None]:
        self.requests.append((limit, token))
        if token is not None and self.expire:
            self.expire -= 1
            raise Expired("410 Gone: the provided continue parameter is too old", status=410)
        start = int(token or 0)
        end = start + limit if limit else len(self.pods)
        return copy.deepcopy(self.pods[start:end]), "40", str(end) if end < len(self.pods) else None

    def watch_pods(self, *, resource_version: str, **_: Any) -> Iterator[tuple[str, dict[str, Any]]]:
        self.watched_from.append(resource_version)
        yield "BOOKMARK", {"metadata": {"resourceVersion": "41"}}
        yield "MODIFIED", _named("b", "42")


def _run(kube: PagedKube, page: int) -> tuple[list[list[dict[str, Any]]], list[tuple[str, dict[str, Any]]], PodInformer]:
    lists: list[list[dict[str, Any]]] = []
    events: list[tuple[str, dict[str, Any]]] = []
    informer = PodInformer(kube, {"label_selector": build.TASK_LABEL}, on_list=lists.append,  # type: ignore[arg-type]
                           on_event=lambda k, p: events.append((k, p)), stop=threading.Event(), page=page,
                           done=lambda: bool(events))
    informer.run()
    return lists, events, informer


def test_the_list_comes_in_pages_and_every_pod_arrives_slim() -> None:
    kube = PagedKube([_named(n) for n in "abcde"])
    lists, events, informer = _run(kube, page=2)
    assert kube.requests == [(2, None), (2, "2"), (2, "4")]
    assert [[p["metadata"]["name"] for p in items] for items in lists] == [list("abcde")]
    assert kube.watched_from == ["40"]  # the list's resourceVersion, not a Pod's
    assert lists[0] == [slim(p) for p in kube.pods]
    assert events == [("MODIFIED", slim(_named("b", "42")))]
    assert informer.version == "42"


def test_an_expired_continue_token_lists_again_from_the_first_page() -> None:
    kube = PagedKube([_named(n) for n in "abc"], expire=1)
    lists, _, informer = _run(kube, page=2)
    assert kube.requests == [(2, None), (2, "2"), (2, None), (2, "2")]
    assert [[p["metadata"]["name"] for p in items] for items in lists] == [list("abc")]  # no half list handed on
    assert informer.relists == 1


def test_page_0_lists_all_at_once() -> None:
    kube = PagedKube([_named(n) for n in "abc"])
    lists, _, _ = _run(kube, page=0)
    assert kube.requests == [(0, None)] and len(lists[0]) == 3
