"""KubeBackend: the API's Backend for Kubernetes, a thin adapter over ``build`` and ``client``.

submit: create the Job suspended, then its Secret (task JSON) and PVC owned
by it, then let it run; a failure part-way deletes the Job (its dependents
go with it) and raises, so the API ends the task SYSTEM_ERROR. cancel:
delete the Job with Background propagation; TRec or TCtl writes CANCELED.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from poiesis import filer
from poiesis.kube import build
from poiesis.kube.client import Conflict, Kube, api_client
from poiesis.kube.settings import KubeSettings

log = logging.getLogger(__name__)


class KubeBackend:
    """Runs each task as one Job on a Kubernetes cluster."""

    name = "kubernetes"
    backend_parameters: frozenset[str] = build.BACKEND_PARAMETERS
    writes_cancel = True

    def __init__(self, settings: KubeSettings, kube: Kube | None = None) -> None:
        self.settings = settings
        self.kube = kube or Kube(api_client(settings.kubeconfig), settings.namespace)
        #: directories file:// URLs may use: the shared volume's mount in tif and tof, else none
        #: (CreateTask refuses file:// URLs outside them)
        self.file_roots: tuple[str, ...] = settings.file_roots
        #: service-info ``storage``: file:///<mount>/ only when a shared volume reaches the filers
        self.storage: tuple[str, ...] = filer.storage_prefixes(
            self.file_roots, s3_buckets=filer.FilerConfig.from_env().s3_buckets
        )

    def submit(self, task_id: str, task: Mapping[str, Any]) -> None:
        """Create the Job (suspended), its Secret and PVC, then resume it."""
        self.create(task_id, task, build.build_job(task_id, task, self.settings))

    def create(self, task_id: str, task: Mapping[str, Any], manifest: dict[str, Any]) -> None:
        """Create a built Job manifest and its dependents (``submit`` without the building)."""
        cfg = self.settings
        name = build.job_name(task_id)
        job: dict[str, Any] | None
        try:
            job = self.kube.create_job(manifest)
        except Conflict:
            job = self.kube.get_job(name)
            if job is None:
                raise
            if not job["spec"].get("suspend"):
                return  # submitted before (a resubmission found it running)
        owner = build.owner_reference(name=name, uid=job["metadata"]["uid"])
        dependents = [(self.kube.create_secret, build.build_secret(task_id, task, cfg, owner=owner))]
        if cfg.transfer_volume == "pvc":
            dependents.append((self.kube.create_pvc, build.build_pvc(task_id, task, cfg, owner=owner)))
        try:
            for create, body in dependents:
                try:
                    create(body)
                except Conflict:
                    pass  # made by an earlier attempt, owned by this Job
            self.kube.resume_job(name)
        except Exception:
            self.kube.delete_job(name)
            raise

    def cancel(self, task_id: str) -> None:
        """Delete the task's Pod with the short cancel grace period, then its Job; absent is fine.

        The Pod goes first: deleted through its Job, the garbage collector gives it the Pod's
        full grace (30 s), and once the kubelet has begun stopping containers with that grace a
        later, shorter one does not cut the wait (seen on the real node: a SIGTERM-ignoring
        `sleep` kept the Pod and its PVC 30 s after CANCELED). The Job cannot replace the Pod:
        its backoffLimit is 0, so a deleted Pod fails it. Deleting the Job (Background) then
        removes the Secret and PVC it owns.
        """
        self.kube.delete_pods(label_selector=f"{build.TASK_LABEL}={task_id}",
                              grace_period_seconds=self.settings.cancel_grace_s)
        self.kube.delete_job(build.job_name(task_id))
