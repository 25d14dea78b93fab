"""Task state in PostgreSQL: the only package that imports psycopg.

``Store`` reads and writes tasks; ``db`` opens pools, starts the embedded
server and applies migrations; ``WriteRetry`` retries writes while the
database is unavailable. Nothing here knows HTTP or Kubernetes.
"""

from poiesis.store.db import Unavailable, migrate, open_pool, start_embedded
from poiesis.store.retry import WriteRetry
from poiesis.store.tasks import Page, Store, TaskFilter

__all__ = [
    "Page",
    "Store",
    "TaskFilter",
    "Unavailable",
    "WriteRetry",
    "migrate",
    "open_pool",
    "start_embedded",
]
