"""The paged Pod list on the real API server: one snapshot across pages, and a continue token etcd compacted away."""

from __future__ import annotations

import threading

import pytest

from poiesis.kube import build
from poiesis.kube.client import Expired, Kube
from poiesis.kube.informer import PodInformer
from tests.plugins.kube import Cluster, compact_etcd
from tests.plugins.kubetasks import wait_for


def _pod(name: str) -> dict:
    # no node: the scheduler may place it on the KWOK node, nothing reads its status here
    return {"metadata": {"name": name, "labels": {build.TASK_LABEL: name}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


@pytest.fixture
def three_pods(kube: Kube) -> list[str]:
    names = ["p-a", "p-b", "p-c"]
    for name in names:
        kube.core.create_namespaced_pod(kube.namespace, _pod(name))
    return names


def test_pages_come_from_one_snapshot(kube: Kube, three_pods: list[str]) -> None:
    """A Pod made between two pages is not in the list, and every page carries the list's resourceVersion."""
    first, version, token = kube.list_pods_page(limit=2, label_selector=build.TASK_LABEL)
    assert len(first) == 2 and token
    kube.core.create_namespaced_pod(kube.namespace, _pod("p-later"))
    rest, version_2, end = kube.list_pods_page(limit=2, token=token, label_selector=build.TASK_LABEL)
    assert end is None and version_2 == version
    assert sorted(p["metadata"]["name"] for p in first + rest) == three_pods


def test_a_compacted_continue_token_is_expired(kube: Kube, kube_cluster: Cluster, three_pods: list[str]) -> None:
    _, _, token = kube.list_pods_page(limit=1, label_selector=build.TASK_LABEL)
    kube.core.create_namespaced_pod(kube.namespace, _pod("p-later"))  # the revision moves past the token's
    compact_etcd(kube_cluster)
    with pytest.raises(Expired):
        kube.list_pods_page(limit=1, token=token, label_selector=build.TASK_LABEL)


def test_the_informer_lists_in_pages_and_watches_from_the_list(kube: Kube, three_pods: list[str]) -> None:
    listed: list[list[dict]] = []
    events: list[tuple[str, dict]] = []
    informer = PodInformer(kube, {"label_selector": build.TASK_LABEL}, on_list=listed.append,
                           on_event=lambda kind, pod: events.append((kind, pod)), page=1, timeout_s=10,
                           done=lambda: any(p["metadata"]["name"] == "p-later" for _, p in events))
    thread = threading.Thread(target=informer.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: listed, what="the first list")
        kube.core.create_namespaced_pod(kube.namespace, _pod("p-later"))
        thread.join(timeout=30)
        assert not thread.is_alive()
    finally:
        informer.stop.set()
    assert sorted(p["metadata"]["name"] for p in listed[0]) == three_pods
    assert all("managedFields" not in p["metadata"] for p in listed[0])
    assert events[-1][0] == "ADDED" and set(events[-1][1]["spec"]["containers"][0]) == {"name"}
