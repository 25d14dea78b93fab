"""Kubernetes: the only package that imports the kubernetes client.

``settings`` reads POIESIS_KUBE_*; ``build`` turns a task into Job, Secret
and PVC manifests (pure); ``outcome`` sorts an observed Pod into what the
database should say (pure); ``client`` and ``backend`` are the thin adapters
that talk to the API server. Nothing here writes to the database: TRec and
TCtl do, through ``poiesis.store``.
"""
