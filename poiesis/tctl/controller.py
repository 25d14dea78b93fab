"""TCtl's moving parts: the Pod informer, the Lease loop, and applying decisions once.

Threads: the informer (list+watch of Pods labelled poiesis.io/task, relist
on 410) keeps ``pods`` and ``gone``; the lease loop renews or takes the
Lease every ``lease_renew_s``; the main loop reconciles after Pod events
(debounced) and on every resync, but only while this replica leads. Every
replica keeps its informer warm, so a new leader acts at once.

A pass after Pod events decides only the tasks whose Pod changed since the
last pass (``reconcile.Dirty``, marked by the informer); every resync, the
first pass after a (re)list and a new leader's first pass decide every active
task, with the Jobs at the resync.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from generated.models import TesTask
from poiesis import logs, metrics
from poiesis.config.kube import KubeSettings
from poiesis.kube import build
from poiesis.kube.client import Conflict, Kube, KubeError
from poiesis.kube.informer import PodInformer
from poiesis.record import Recorder
from poiesis.states import State
from poiesis.store import Store
from poiesis.tctl import lease, reconcile

log = logging.getLogger(__name__)

#: the Job controller's events when the API server refuses the Job's Pod
FAILED_CREATE = "involvedObject.kind=Job,reason=FailedCreate"


def utcnow() -> datetime:
    return datetime.now(UTC)


def by_task(actions: list[reconcile.Action]) -> list[list[reconcile.Action]]:
    """The actions grouped per task, each group in decision order, groups in order of first action."""
    groups: dict[str, list[reconcile.Action]] = {}
    for action in actions:
        groups.setdefault(action.task_id, []).append(action)
    return list(groups.values())


def _task_of(pod: dict[str, Any]) -> str | None:
    return ((pod.get("metadata") or {}).get("labels") or {}).get(build.TASK_LABEL)


def _phase(pod: dict[str, Any]) -> str | None:
    return (pod.get("status") or {}).get("phase")


@dataclass
class Controller:
    """One TCtl replica."""

    kube: Kube
    store: Store
    cfg: KubeSettings
    identity: str
    submit: Callable[[str, TesTask], None]
    clock: Callable[[], datetime] = utcnow
    debounce_s: float = 0.2
    pods: dict[str, dict[str, Any]] = field(default_factory=dict)
    gone: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    synced: threading.Event = field(default_factory=threading.Event)
    leading: bool = False
    _renewed: datetime | None = None
    _dirty: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    recorder: Recorder | None = None
    apply_workers: int = 4
    #: monotonic time of the last lease step (liveness: the lease loop is turning)
    lease_checked: float | None = None
    _dirty_since: float | None = None
    #: tasks resubmitted by this replica (a running Job's submission is completed only once)
    resubmitted: set[str] = field(default_factory=set)
    #: the tasks the next pass decides (guarded by ``_lock``)
    dirty: reconcile.Dirty = field(default_factory=reconcile.Dirty)
    #: what each Pod said at its last resourceVersion (used by the reconcile loop only)
    outcomes: reconcile.Outcomes = field(default_factory=reconcile.Outcomes)
    #: tasks whose Pod is in phase Pending (guarded by ``_lock``): kept per event, recounted at each (re)list
    pending: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._workers = ThreadPoolExecutor(self.apply_workers, thread_name_prefix="tctl-apply")
        if self.recorder is None:
            self.recorder = Recorder(store=self.store, kube=self.kube, log_tail_bytes=self.cfg.trec_log_tail_bytes, source="tctl")

    # -- informer -------------------------------------------------------------------

    def on_pod_event(self, kind: str, pod: dict[str, Any]) -> None:
        task = _task_of(pod)
        if task is None:
            return
        with self._lock:
            if kind == "DELETED":
                self.pods.pop(task, None)
                self.gone[task] = pod
                self.pending.discard(task)
            else:
                self.pods[task] = pod
                if _phase(pod) == "Pending":
                    self.pending.add(task)
                else:
                    self.pending.discard(task)
            self.dirty.mark(task)
            metrics.PODS_PENDING.set(len(self.pending))
        self._mark_dirty()

    def on_pod_list(self, items: list[dict[str, Any]]) -> None:
        fresh = {t: p for p in items if (t := _task_of(p))}
        with self._lock:
            for task in set(self.pods) - set(fresh):
                self.gone[task] = self.pods[task]
            self.pods = fresh
            self.dirty.mark_all()  # what changed while nobody watched is not known
            self.pending = {t for t, p in fresh.items() if _phase(p) == "Pending"}
            metrics.PODS_PENDING.set(len(self.pending))
        self.synced.set()
        self._mark_dirty()

    def _mark_dirty(self) -> None:
        """Ask for a reconcile, remembering when the oldest unhandled request came (reconcile lag)."""
        if self._dirty_since is None:
            self._dirty_since = time.monotonic()
        self._dirty.set()

    def inform(self) -> None:
        """List then watch task Pods until stopped (``kube.informer``: 410 relists, errors retry)."""
        PodInformer(self.kube, {"label_selector": build.TASK_LABEL}, on_list=self.on_pod_list, on_event=self.on_pod_event,
                    stop=self.stop, page=self.cfg.list_page).run()

    # -- lease ------------------------------------------------------------------------

    def lease_step(self) -> bool:
        """Read the Lease, write what ``lease.decide`` says; returns whether we lead now."""
        now = self.clock()
        name, ns = self.cfg.lease_name, self.kube.namespace
        try:
            obj = self.kube.get_lease(name)
            current = lease.from_lease(obj) if obj else None
            decision = lease.decide(current, me=self.identity, now=now, duration_s=self.cfg.lease_duration_s)
            record = decision.record  # set whenever the decision writes (create, renew, take)
            if decision.action == "create" and record is not None:
                self.kube.create_lease(lease.to_lease(record, name=name, namespace=ns))
            elif decision.leads and record is not None and obj is not None:
                version = obj["metadata"]["resourceVersion"]
                self.kube.replace_lease(name, lease.to_lease(record, name=name, namespace=ns, resource_version=version))
            if decision.leads:
                if not self.leading:
                    log.info("%s: leading (%s)", self.identity, decision.action)
                self._renewed = now
            elif self.leading:
                log.info("%s: lost the lease to %s", self.identity, current.holder if current else None)
                self._renewed = None
        except Conflict:
            self._renewed = None if not self.leading else self._renewed
        except KubeError as exc:
            log.warning("%s: lease request failed: %s", self.identity, exc)
        self.leading = lease.holds(self._renewed, now=self.clock(), duration_s=self.cfg.lease_duration_s)
        metrics.TCTL_LEADER.set(1 if self.leading else 0)
        self.lease_checked = time.monotonic()
        if self.leading:
            self._dirty.set()
        return self.leading

    def lease_loop(self) -> None:
        while not self.stop.is_set():
            self.lease_step()
            self.stop.wait(self.cfg.lease_renew_s)

    def release(self) -> None:
        """On a clean exit, give the Lease up so another replica takes over at once."""
        if not self.leading:
            return
        obj = self.kube.get_lease(self.cfg.lease_name)
        if obj and lease.from_lease(obj).holder == self.identity:
            rec = lease.LeaseRecord(holder=None, duration_s=self.cfg.lease_duration_s, transitions=lease.from_lease(obj).transitions)
            try:
                self.kube.replace_lease(
                    self.cfg.lease_name,
                    lease.to_lease(rec, name=self.cfg.lease_name, namespace=self.kube.namespace,
                                   resource_version=obj["metadata"]["resourceVersion"]),
                )
            except KubeError:
                pass
        self.leading = False
        metrics.TCTL_LEADER.set(0)

    # -- reconcile --------------------------------------------------------------------

    def snapshot(self, *, with_jobs: bool) -> reconcile.Snapshot:
        """What the pass decides from: every active task at a resync (``with_jobs``) or when a full sweep is due,
        else only the tasks whose Pod changed since the last pass (``dirty``; ``Snapshot.scope``)."""
        jobs, failures = None, {}
        if with_jobs:
            jobs = {t: j for j in self.kube.list_jobs(label_selector=build.TASK_LABEL) if (t := _task_of(j))}
            failures = reconcile.create_failures(jobs, self._failed_create_events())
        with self._lock:
            scope = self.dirty.take(full=with_jobs)
        try:
            tasks = self.store.active_tasks(scope)
        except BaseException:
            self._remark(scope)
            raise
        with self._lock:
            if scope is None:
                pods, gone = dict(self.pods), dict(self.gone)
            else:
                pods = {t: p for t in scope if (p := self.pods.get(t)) is not None}
                gone = {t: self.gone[t] for t in scope if t in self.gone}
        if scope is None:
            self.outcomes.keep_only(pods)
        return reconcile.Snapshot(
            now=self.clock(),
            tasks=tasks,
            pods=pods,
            gone=gone,
            jobs=jobs,
            pending_timeout_s=self.cfg.pending_timeout_s,
            queued_grace_s=self.cfg.queued_grace_s,
            create_failures=failures,
            resubmitted=frozenset(self.resubmitted),
            scope=scope,
            outcomes=self.outcomes.of_all({t: p for t, p in pods.items() if t in tasks}),
        )

    def _remark(self, scope: frozenset[str] | None) -> None:
        """A pass that did not happen: what it took is for the next pass."""
        with self._lock:
            self.dirty.restore(scope)

    def _failed_create_events(self) -> list[dict[str, Any]]:
        """FailedCreate events; none (and a warning) when they cannot be listed, e.g. a Role without events: list."""
        try:
            return self.kube.list_events(field_selector=FAILED_CREATE)
        except KubeError as exc:
            log.warning("cannot list FailedCreate events (%s); refused Pods end at the pending timeout", exc)
            return []

    def reconcile_once(self, *, with_jobs: bool) -> list[reconcile.Action]:
        """Decide from a fresh snapshot, then apply each action once.

        Different tasks' actions run in parallel on ``apply_workers`` threads; one task's
        actions run in the order decided, on one thread. The pass ends when all are applied.
        A task whose action failed is marked for the next pass.
        """
        snap = self.snapshot(with_jobs=with_jobs)
        try:
            actions = reconcile.decide(snap)
        except BaseException:
            self._remark(snap.scope)
            raise
        groups = by_task(actions)
        results = [self._workers.submit(self._apply_in_order, group) for group in groups]
        failed = [group[0].task_id for group, done in zip(groups, results, strict=True) if not done.result()]
        if failed:
            self._remark(frozenset(failed))
        self._forget(snap)
        return actions

    def _apply_in_order(self, actions: list[reconcile.Action]) -> bool:
        """One task's actions, in order; a failure is logged and ends that task's turn (returns False)."""
        with logs.task(actions[0].task_id):
            for action in actions:
                try:
                    self._apply(action)
                except Exception:
                    log.exception("applying %s failed", type(action).__name__)
                    return False
        return True

    def _apply(self, action: reconcile.Action) -> None:
        if isinstance(action, reconcile.Record):
            recorder = self.recorder
            assert recorder is not None, "set by __post_init__"
            landed = recorder.record(action.task_id, action.pod, action.outcome)
            if landed is not None:
                recorder.forget(action.task_id)
        elif isinstance(action, reconcile.DeleteJob):
            self.kube.delete_job(build.job_name(action.task_id))
        elif isinstance(action, reconcile.Resubmit):
            self.resubmitted.add(action.task_id)
            task = self.store.get_task_model(action.task_id)  # read back and parsed once, here
            if task is not None and task.state == State.QUEUED:
                log.info("resubmitting task %s (QUEUED with no running Job)", action.task_id)
                self.submit(action.task_id, task)

    def count_states(self) -> None:
        """Publish the tasks per state (every state, 0 when none): TRec's writes show up here too."""
        try:
            counts = self.store.count_by_state()
        except Exception:
            log.exception("counting tasks by state failed")
            return
        for state in State:
            metrics.TASKS_BY_STATE.labels(state=state.value).set(counts.get(state.value, 0))

    def _forget(self, snap: reconcile.Snapshot) -> None:
        """Drop deleted Pods of tasks that are no longer active (of those the pass looked at)."""
        looked = snap.scope if snap.scope is not None else set(snap.gone) | snap.resubmitted
        ended = [t for t in looked if t not in snap.tasks]
        with self._lock:
            for task in ended:
                self.gone.pop(task, None)
        self.resubmitted.difference_update(ended)

    def _has_dirty(self) -> bool:
        with self._lock:
            return bool(self.dirty)

    def run(self) -> None:
        """Informer and lease threads, and the reconcile loop, until ``stop``."""
        threads = [
            threading.Thread(target=self.inform, name="tctl-informer", daemon=True),
            threading.Thread(target=self.lease_loop, name="tctl-lease", daemon=True),
        ]
        for t in threads:
            t.start()
        self.synced.wait(30)
        next_resync = time.monotonic()
        try:
            while not self.stop.is_set():
                self._dirty.wait(max(0.0, min(self.cfg.resync_s, next_resync - time.monotonic())))
                if self.stop.is_set():
                    break
                self._dirty.clear()
                resync = time.monotonic() >= next_resync
                if resync:
                    next_resync = time.monotonic() + self.cfg.resync_s
                if not (self.leading and self.synced.is_set()):
                    with self._lock:  # what changed while another replica led is not known: sweep first
                        self.dirty.mark_all()
                elif resync or self._has_dirty():
                    since = self._dirty_since if self._dirty_since is not None else time.monotonic()
                    self._dirty_since = None
                    try:
                        self.reconcile_once(with_jobs=resync)
                    except Exception:
                        log.exception("reconcile failed")
                    else:
                        metrics.TCTL_RECONCILES.inc()
                        metrics.TCTL_LAST_RECONCILE.set(time.time())
                    if resync:
                        self.count_states()
                    metrics.TCTL_RECONCILE_LAG.set(time.monotonic() - since)
                self.stop.wait(self.debounce_s)
        finally:
            self.release()
            self._workers.shutdown(wait=True)
