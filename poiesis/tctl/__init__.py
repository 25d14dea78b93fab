"""TCtl, the backstop controller: one leader among replicas ends every task TRec could not.

``lease`` decides leadership from a Lease record and a clock (pure);
``reconcile`` decides, from a snapshot of Pods, Jobs and active tasks, what
to do (pure); ``controller`` keeps the Pod informer and the Lease, and
applies the decisions once. Kubernetes is reached only through
``poiesis.kube`` and the database only through ``poiesis.store``.
"""
