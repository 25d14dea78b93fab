"""TRec, the in-pod recorder: watches its own Pod and writes the task's life to PostgreSQL.

``record`` turns one observed Pod (through ``poiesis.kube.outcome``) into
idempotent store writes, and is shared with TCtl; ``run`` is the sidecar's
watch loop and SIGTERM handling. It talks to Kubernetes only through
``poiesis.kube`` and to the database only through ``poiesis.store``; it never
creates or deletes Kubernetes objects.
"""
