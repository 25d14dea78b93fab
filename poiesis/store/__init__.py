"""Task state in PostgreSQL: the only package that imports psycopg.

``plans`` holds every statement, as sans-I/O plans; ``Store`` runs them on
synchronous connections (TRec, TCtl, the local backend), ``AsyncStore`` on
async ones (the API's request path); ``db`` opens pools, starts the
embedded server and applies migrations; ``WriteRetry`` retries writes while
the database is unavailable. Nothing here knows HTTP or Kubernetes.
"""

from poiesis.store.aio import AsyncStore
from poiesis.store.db import Unavailable, ensure_task_role, migrate, open_async_pool, open_pool, start_embedded
from poiesis.store.plans import START, Event, Page, Position, TaskFilter
from poiesis.store.retry import WriteRetry
from poiesis.store.tasks import RunWriter, Store, TaskStore

__all__ = [
    "START",
    "AsyncStore",
    "Event",
    "Page",
    "Position",
    "RunWriter",
    "Store",
    "TaskFilter",
    "TaskStore",
    "Unavailable",
    "WriteRetry",
    "ensure_task_role",
    "migrate",
    "open_async_pool",
    "open_pool",
    "start_embedded",
]
