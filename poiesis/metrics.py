"""Prometheus series of every Poiesis process, and their text exposition.

One module so that docs/operations.md can list them all from one place. The
API, TRec and TCtl each import what they count; ``exposition`` renders the
process's registry, or, given the PROMETHEUS_MULTIPROC_DIR of the settings
(the API with ``--workers`` > 1), the sum over every worker's files there.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

#: the TES operations, named by their operationId; "other" for paths outside the spec (probes, UI)
API_REQUESTS = Counter(
    "poiesis_api_requests", "HTTP requests answered by the API, by TES operation and status code",
    ["operation", "status"],
)
API_LATENCY = Histogram(
    "poiesis_api_request_duration_seconds", "Time to answer an API request, by TES operation and status code",
    ["operation", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
TASKS_CREATED = Counter("poiesis_tasks_created", "Tasks stored by CreateTask")
TASKS_ENDED = Counter(
    "poiesis_tasks_ended", "Terminal states written by this process, by state and writer (api, trec, tctl, local)",
    ["state", "ended_by"],
)
WRITE_RETRIES = Counter(
    "poiesis_store_write_retries", "Database writes retried after the database was unavailable, by component",
    ["component"],
)
TCTL_LEADER = Gauge("poiesis_tctl_leader", "1 while this TCtl replica holds the Lease, else 0",
                    multiprocess_mode="max")
TCTL_RECONCILE_LAG = Gauge(
    "poiesis_tctl_reconcile_lag_seconds",
    "Seconds from the oldest Pod event or resync a reconcile handled to the end of that reconcile",
    multiprocess_mode="max",
)
TCTL_RECONCILES = Counter("poiesis_tctl_reconciles", "Reconcile passes run by the leader")
TCTL_LAST_RECONCILE = Gauge("poiesis_tctl_last_reconcile_timestamp_seconds",
                            "Unix time the leader last finished a reconcile", multiprocess_mode="max")
TASKS_BY_STATE = Gauge(
    "poiesis_tasks", "Tasks in the database by state, counted by the TCtl leader on every resync "
    "(whoever wrote the state: API, TRec, TCtl)", ["state"], multiprocess_mode="max",
)
KUBE_SUBMIT_QUEUE = Gauge("poiesis_kube_submit_queue", "Tasks waiting in this process's Kubernetes submission queue",
                          multiprocess_mode="livesum")
KUBE_SUBMISSIONS = Counter(
    "poiesis_kube_submissions",
    "Kubernetes submissions by outcome: submitted, overflow (queue full: left to TCtl's sweep), deferred (API server"
    " unavailable: left to the sweep), failed (refused: SYSTEM_ERROR), cancelled (cancelled before or while submitted),"
    " skipped (no longer QUEUED when its turn came)",
    ["outcome"],
)
PODS_PENDING = Gauge("poiesis_pods_pending", "Task Pods in phase Pending, as TCtl's informer sees them",
                     multiprocess_mode="max")


def exposition(multiproc_dir: str | None = None) -> tuple[bytes, str]:
    """The metrics page (body, content type) of this process, or of all workers writing to ``multiproc_dir``."""
    if multiproc_dir:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=multiproc_dir)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
