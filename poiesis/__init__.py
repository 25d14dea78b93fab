"""Poiesis: a GA4GH Task Execution Service that runs each task as one Kubernetes Pod.

Packages, one per concept: ``api`` (HTTP), ``store`` (PostgreSQL, the only
place that imports psycopg), ``kube`` (the only place that imports the
kubernetes client), ``trec``, ``tctl``, ``filer``, ``local`` and ``cli``.
"""
