"""The TES HTTP API: Connexion serves openapi/, handlers call the store and the backend.

Must not talk to PostgreSQL or Kubernetes directly: it goes through
``poiesis.store`` and the ``poiesis.backend.Backend`` it is given.
"""
