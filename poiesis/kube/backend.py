"""KubeBackend: the API's Backend for Kubernetes, a thin adapter over ``build``, ``client`` and ``submit``.

submit: with a store (the API, TCtl), queue the stored task and return at
once; worker threads then run ``submit_now``. Without one (tools, tests),
``submit_now`` runs in the caller.

submit_now, for one task, step after step: skip it unless it is still QUEUED;
create the Job, running (not suspended: no Pod can start before its volumes
exist anyway, since the scheduler does not place a Pod whose claim is
missing and the kubelet starts no container before every volume, the task
Secret included, is mounted); create its Secret and PVC owned by the Job;
then read the state again and delete the Job if a cancel came meanwhile
(CancelTask writes CANCELING before it deletes, so one of the two sees the
other). Three API-server requests, one fewer than the suspend/resume order.
A refused request (invalid, forbidden) ends the task SYSTEM_ERROR and
deletes the Job; an API server that does not answer is retried, then the
task stays QUEUED for TCtl's sweep.

cancel: withdraw a submission still waiting in the queue, delete the Job
with Background propagation and the Pods with the short cancel grace; TRec
or TCtl writes CANCELED.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from generated.models import TesTask
from poiesis import filer, lifecycle, metrics, retry
from poiesis.config.kube import KubeSettings
from poiesis.kube import build
from poiesis.kube.client import Conflict, Kube, KubeError, api_client, transient
from poiesis.kube.submit import Submitter
from poiesis.states import State
from poiesis.store import Store

log = logging.getLogger(__name__)

#: retries of an API server that does not answer, before leaving the task to the sweep
BACKOFF = retry.Backoff(attempts=4, base_delay=0.5, max_delay=4.0)
#: states in which a Job made for the task must not stay
_CANCELLED = frozenset({State.CANCELING.value, State.CANCELED.value})


class KubeBackend:
    """Runs each task as one Job on a Kubernetes cluster."""

    name = "kubernetes"
    writes_cancel = True

    def __init__(self, settings: KubeSettings, kube: Kube | None = None, *, store: Store | None = None,
                 ended_by: str = "api", s3_buckets: tuple[str, ...] = ()) -> None:
        self.settings = settings
        #: backend_parameters under the settings' allowlists (CreateTask and ``build`` both check them)
        self.parameters = build.parameter_policy(settings)
        self.max_task_seconds = settings.max_task_seconds
        self.kube = kube or Kube(
            api_client(settings.kubeconfig, connections=settings.submit_workers + 4), settings.namespace
        )
        self.store = store
        self.ended_by = ended_by
        #: submissions off the caller's thread; None: ``submit`` submits in the caller
        self.submitter: Submitter | None = None
        if store is not None and settings.submit_workers > 0:
            self.submitter = Submitter(self.submit_now, workers=settings.submit_workers,
                                       capacity=settings.submit_queue)
        #: directories file:// URLs may use: the shared volume's mount in tif and tof, else none
        #: (CreateTask refuses file:// URLs outside them)
        self.file_roots: tuple[str, ...] = settings.file_roots
        #: service-info ``storage``: file:///<mount>/ only when a shared volume reaches the filers;
        #: ``s3_buckets`` the filer settings' (POIESIS_S3_BUCKETS)
        self.storage: tuple[str, ...] = filer.storage_prefixes(self.file_roots, s3_buckets=s3_buckets)

    @property
    def submit_blocks(self) -> bool:
        """Without submission threads, ``submit`` creates the Job in the caller."""
        return self.submitter is None

    def submit(self, task_id: str, task: TesTask) -> None:
        """Queue a stored task for ``submit_now``; a full queue leaves it QUEUED for TCtl's sweep."""
        if self.submitter is None:
            self.create(task_id, task, build.build_job(task_id, task, self.settings))
            return
        if not self.submitter.offer(task_id, task):
            metrics.KUBE_SUBMISSIONS.labels("overflow").inc()
            log.warning("submission queue full (%d tasks): task %s stays QUEUED until TCtl's sweep submits it",
                        self.submitter.capacity, task_id)

    def submit_now(self, task_id: str, task: TesTask) -> None:
        """Create the task's objects unless it left QUEUED; a cancel meanwhile deletes them again."""
        assert self.store is not None
        state = self.store.get_state(task_id)
        if state != State.QUEUED.value:
            metrics.KUBE_SUBMISSIONS.labels("cancelled" if state in _CANCELLED else "skipped").inc()
            return  # cancelled before its turn, or already under way (a resubmission raced it)
        try:
            manifest = build.build_job(task_id, task, self.settings)
            BACKOFF.call(lambda: self._attempt(task_id, task, manifest), retry_on=_Transient, on_retry=_retrying)
        except _Transient as exc:
            metrics.KUBE_SUBMISSIONS.labels("deferred").inc()
            log.warning("the API server did not take task %s (%s); it stays QUEUED for TCtl's sweep", task_id, exc)
            return
        except Exception as exc:  # noqa: BLE001 - a refusal ends the task, visibly
            self._refused(task_id, exc)
            return
        if self.store.get_state(task_id) in _CANCELLED:
            metrics.KUBE_SUBMISSIONS.labels("cancelled").inc()
            self.cancel(task_id)
            return
        metrics.KUBE_SUBMISSIONS.labels("submitted").inc()

    def _attempt(self, task_id: str, task: TesTask, manifest: dict[str, Any]) -> None:
        try:
            self.create(task_id, task, manifest)
        except KubeError as exc:
            if transient(exc):
                raise _Transient(str(exc)) from exc
            raise

    def _refused(self, task_id: str, exc: Exception) -> None:
        """The cluster refused the task: no Job stays, the task ends SYSTEM_ERROR saying so."""
        metrics.KUBE_SUBMISSIONS.labels("failed").inc()
        log.error("submitting task %s failed: %s", task_id, exc, exc_info=not isinstance(exc, KubeError))
        try:
            self.kube.delete_job(build.job_name(task_id))
        except KubeError as cleanup:
            log.warning("could not delete the Job of refused task %s: %s", task_id, cleanup)
        assert self.store is not None
        lines = lifecycle.submission_failed(self.name, exc).lines
        self.store.write_terminal_state(task_id, State.SYSTEM_ERROR, ended_by=self.ended_by, system_logs=list(lines))

    def create(self, task_id: str, task: TesTask, manifest: dict[str, Any]) -> None:
        """Create a built Job manifest, then its dependents owned by it; repeating it is harmless.

        A Job that exists already (a resubmission) is kept and its dependents made if missing.
        A failure after the Job exists deletes it (the dependents go with it), then raises.
        """
        try:
            metadata = self.kube.create_job(manifest)["metadata"]
            suspended = bool(manifest["spec"].get("suspend"))
        except Conflict:
            job = self.kube.get_job(build.job_name(task_id))
            if job is None:
                raise
            metadata, suspended = job["metadata"], bool(job["spec"].get("suspend"))
        try:
            self._create_dependents(task_id, task, metadata, suspended=suspended)
        except Exception:
            self.kube.delete_job(build.job_name(task_id))
            raise

    def _create_dependents(self, task_id: str, task: TesTask, job: Mapping[str, Any], *, suspended: bool) -> None:
        """The Secret (and PVC) owned by the Job whose metadata is ``job``; resume the Job if it was left suspended."""
        cfg = self.settings
        owner = build.owner_reference(name=job["name"], uid=job["uid"])
        secret = self.store.task_secret(task_id) if self.store is not None else None
        dependents = [(self.kube.create_secret, build.build_secret(task_id, task, cfg, owner=owner, trec_secret=secret))]
        if cfg.transfer_volume == "pvc":
            dependents.append((self.kube.create_pvc, build.build_pvc(task_id, task, cfg, owner=owner)))
        for create, body in dependents:
            try:
                create(body)
            except Conflict:
                pass  # made by an earlier attempt, owned by this Job
        if suspended:
            self.kube.resume_job(job["name"])  # a Job an older version left suspended

    def cancel(self, task_id: str) -> None:
        """Withdraw a waiting submission, then delete the task's Pod (short grace) and its Job.

        The Pod goes first: deleted through its Job, the garbage collector gives it the Pod's
        full grace (30 s), and once the kubelet has begun stopping containers with that grace a
        later, shorter one does not cut the wait (seen on the real node: a SIGTERM-ignoring
        `sleep` kept the Pod and its PVC 30 s after CANCELED). The Job cannot replace the Pod:
        its backoffLimit is 0, so a deleted Pod fails it. Deleting the Job (Background) then
        removes the Secret and PVC it owns.
        """
        if self.submitter is not None and self.submitter.withdraw(task_id):
            metrics.KUBE_SUBMISSIONS.labels("cancelled").inc()
            self._cancelled_unsubmitted(task_id)
        self.kube.delete_pods(label_selector=f"{build.TASK_LABEL}={task_id}",
                              grace_period_seconds=self.settings.cancel_grace_s)
        self.kube.delete_job(build.job_name(task_id))

    def _cancelled_unsubmitted(self, task_id: str) -> None:
        """Nothing was created for the task here: it ends CANCELED now, not at TCtl's next sweep.

        Another process submitting it (TCtl's resubmission) reads CANCELED after its create and deletes its Job.
        """
        assert self.store is not None
        end = lifecycle.cancelled()
        self.store.write_terminal_state(task_id, end.state, system_logs=end.lines, ended_by=self.ended_by)

    def close(self) -> None:
        """Stop the submission threads; tasks still queued stay QUEUED for the sweep."""
        if self.submitter is not None:
            self.submitter.stop()


class _Transient(Exception):
    """The API server did not answer (or was overloaded): worth another try."""


def _retrying(attempt: int, exc: BaseException, wait: float) -> None:
    log.info("API server request failed (%s), attempt %d; again in %.1fs", exc, attempt, wait)
