"""PodInformer hands Pods on without managedFields (TCtl keeps every task Pod in memory)."""

from __future__ import annotations

import threading
from typing import Any

from poiesis.kube.informer import PodInformer

MANAGED = [{"manager": "kwok", "operation": "Update", "fieldsV1": {"f:status": {}}}]


def _pod(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "resourceVersion": "7", "labels": {"poiesis.io/task": name},
                         "managedFields": list(MANAGED)},
            "status": {"phase": "Running"}}


class FakeKube:
    def list_pods(self, **_: str) -> tuple[list[dict[str, Any]], str]:
        return [_pod("a")], "5"

    def watch_pods(self, **_: Any):
        yield "MODIFIED", _pod("b")


def test_list_and_events_arrive_without_managed_fields() -> None:
    listed: list[dict[str, Any]] = []
    events: list[tuple[str, dict[str, Any]]] = []
    stop = threading.Event()
    informer = PodInformer(FakeKube(), {"label_selector": "poiesis.io/task"},  # type: ignore[arg-type]
                           on_list=listed.extend, on_event=lambda k, p: events.append((k, p)), stop=stop,
                           done=lambda: bool(events))
    informer.run()
    assert [p["metadata"]["name"] for p in listed] == ["a"]
    assert [(k, p["metadata"]["name"]) for k, p in events] == [("MODIFIED", "b")]
    for pod in [*listed, *(p for _, p in events)]:
        assert "managedFields" not in pod["metadata"]
        assert pod["metadata"]["labels"] == {"poiesis.io/task": pod["metadata"]["name"]}
        assert pod["status"] == {"phase": "Running"}
