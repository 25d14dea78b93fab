"""List, then watch Pods from the list's resourceVersion, relisting after 410: the loop TRec and TCtl share.

TRec informs on its own Pod (a field selector), TCtl on every task Pod (a label
selector); both hand what they see to callbacks and own what they do with it.
A 410 (the watch's resourceVersion was compacted away) lists again at once;
any other failure (the API server unreachable, a callback that raised) waits
``retry_s`` and lists again too, so no event is lost to an error.

The list comes in pages of ``page`` Pods (``limit``/``continue``: one snapshot, one
resourceVersion for the watch), and each Pod is cut to what its readers read
(``kube.slim``) before the next page is fetched, as is each watch event's Pod: TCtl
keeps every task Pod, and the whole list's JSON and dicts at once were its peak.
A continue token too old to serve (410) starts the list again from its first page.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from poiesis.kube.client import Expired, Kube
from poiesis.kube.slim import slim

log = logging.getLogger(__name__)

Pod = dict[str, Any]


@dataclass
class PodInformer:
    """One list+watch loop over the Pods matching ``selectors`` (label_selector / field_selector)."""

    kube: Kube
    selectors: dict[str, str]
    #: the full list, after the first list and after every relist
    on_list: Callable[[list[Pod]], None]
    #: each ADDED / MODIFIED / DELETED event (bookmarks only move the version)
    on_event: Callable[[str, Pod], None]
    stop: threading.Event = field(default_factory=threading.Event)
    #: also ends the loop when true (checked after each event)
    done: Callable[[], bool] = lambda: False
    timeout_s: int = 60
    retry_s: float = 1.0
    #: resourceVersion to watch from before any list (None: list first)
    version: str | None = None
    #: Pods per list request (0: the whole list in one response)
    page: int = 500
    relists: int = 0

    def _finished(self) -> bool:
        return self.stop.is_set() or self.done()

    def run(self) -> None:
        """Until stopped or done: list when there is no version, then watch from it."""
        while not self._finished():
            try:
                if self.version is None:
                    items, self.version = self._list()
                    self.on_list(items)
                self._watch(self.version)
            except Expired:
                log.info("pod list or watch expired (410); listing again")
                self.relists += 1
                self.version = None
            except Exception:
                log.exception("pod watch failed; listing again in %.0fs", self.retry_s)
                self.version = None
                self.stop.wait(self.retry_s)

    def _list(self) -> tuple[list[Pod], str]:
        """Every matching Pod (slim) and the list's resourceVersion, one page in memory at a time."""
        pods: list[Pod] = []
        token: str | None = None
        while True:
            items, version, token = self.kube.list_pods_page(limit=self.page, token=token, **self.selectors)
            pods.extend(map(slim, items))
            del items  # before the next page is decoded
            if token is None:
                return pods, version

    def _watch(self, version: str) -> None:
        for kind, obj in self.kube.watch_pods(resource_version=version, timeout_s=self.timeout_s, **self.selectors):
            self.version = obj["metadata"]["resourceVersion"]
            if kind != "BOOKMARK":
                self.on_event(kind, slim(obj))
            if self._finished():
                return
