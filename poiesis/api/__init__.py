"""The TES HTTP API: Connexion's AsyncApp serves openapi/; ``tes`` holds the operations, ``hardening`` the HTTP shell.

``app`` assembles them, ``probes`` answers health, readiness and metrics,
``serving`` configures uvicorn. Must not talk to PostgreSQL or Kubernetes
directly: it goes through ``poiesis.store`` and the ``poiesis.backend.Backend``
it is given; must not start the database or a backend (``poiesis.compose`` does).
"""
