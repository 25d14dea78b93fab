"""The local backend: run tasks for real on one machine, without Kubernetes.

A scheduler runs at most ``max_tasks`` tasks at once, in creation order;
each task goes through the same lifecycle as its Pod would (TIF in-process
via ``poiesis.filer``, executors one after another, TOF) and the same
recorder rules (RUNNING on the first executor start, one executor log per
executor end, terminal states only through ``Store.write_terminal_state``).
Executors run in a container engine (podman or docker CLI) when one is
configured or answers, otherwise as plain host processes (not isolated).

Must not: import psycopg or the kubernetes client, hand database
credentials or the server's environment to executors, or leave a process
or container running after its task reached a terminal state.
"""

from poiesis.config.local import LocalSettings
from poiesis.local.scheduler import LocalBackend

__all__ = ["LocalBackend", "LocalSettings"]
