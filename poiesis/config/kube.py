"""The ``kube`` section of the settings tree: the Kubernetes backend, TRec and TCtl, from POIESIS_KUBE_*.

Every field has an environment variable (docs/configuration.md and
docs/kubernetes.md list them) and a default that works on the test cluster.
Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from poiesis.config.env import (
    Env,
    SettingsError,
    choice,
    flag,
    integer,
    json_array,
    json_object,
    number,
    string,
    text,
    words,
)
from poiesis.config.local import max_task_seconds

PULL_POLICIES = ("Always", "IfNotPresent", "Never")
TRANSFER_VOLUMES = ("pvc", "emptyDir")
#: uid/gid of the Poiesis image's user (Containerfile); task Pods run as it by default
POIESIS_UID = 10001

#: Pod Security "restricted" at the Pod level: every container non-root (as the image's user),
#: the runtime's default seccomp profile; fsGroup makes volumes that honour it writable
RESTRICTED_POD = {
    "runAsNonRoot": True, "runAsUser": POIESIS_UID, "runAsGroup": POIESIS_UID, "fsGroup": POIESIS_UID,
    "seccompProfile": {"type": "RuntimeDefault"},
}
#: trec, tif, tof: no privilege escalation, no capabilities, a read-only image filesystem
RESTRICTED_POIESIS = {
    "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True,
}
#: executors: as restricted as Pod Security requires; their image's filesystem stays writable
RESTRICTED_EXECUTOR = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
#: executors whose images need root (POIESIS_KUBE_EXECUTOR_AS_ROOT): allowed by "baseline", not "restricted"
ROOT_EXECUTOR = {"runAsNonRoot": False, "runAsUser": 0, "runAsGroup": 0, "allowPrivilegeEscalation": False}


def _or(given: dict[str, Any] | None, default: dict[str, Any] | None) -> dict[str, Any] | None:
    return default if given is None else given


@dataclass(frozen=True)
class KubeSettings:
    """Where and how task Pods run."""

    namespace: str = "poiesis"
    image: str = "poiesis:latest"
    image_pull_policy: str = "IfNotPresent"
    #: IfNotPresent, not Kubernetes' Always-for-untagged: a node without a
    #: registry must still run an untagged image it has (docs/kubernetes.md)
    executor_image_pull_policy: str = "IfNotPresent"
    service_account: str | None = None
    storage_class: str | None = None
    default_disk_gb: float = 1.0
    ttl_seconds_after_finished: int | None = 300
    database_secret: str = "poiesis-db"
    database_secret_key: str = "url"
    filer_env_secret: str | None = None
    #: securityContexts; {} means none at all (the JSON settings override these defaults whole)
    pod_security_context: dict[str, Any] | None = field(default_factory=lambda: dict(RESTRICTED_POD))
    container_security_context: dict[str, Any] | None = field(default_factory=lambda: dict(RESTRICTED_POIESIS))
    executor_security_context: dict[str, Any] | None = field(default_factory=lambda: dict(RESTRICTED_EXECUTOR))
    #: the task volume at /transfer: a PVC per task, or an emptyDir sized by disk_gb
    transfer_volume: str = "pvc"
    trec_log_tail_bytes: int = 10_000
    pending_timeout_s: float = 300.0
    #: seconds a cancelled task's containers get between SIGTERM and SIGKILL
    cancel_grace_s: int = 2
    queued_grace_s: float = 120.0
    lease_name: str = "poiesis-tctl"
    lease_duration_s: float = 15.0
    lease_renew_s: float = 5.0
    resync_s: float = 10.0
    #: Pods per page of the informers' list (limit/continue; 0: the whole list in one response)
    list_page: int = 500
    #: threads submitting stored tasks to the API server, per process (0: submit inside the request)
    submit_workers: int = 32
    #: tasks that may wait for those threads; more are left QUEUED for TCtl's sweep
    submit_queue: int = 4096
    kubeconfig: str | None = None
    extra_labels: dict[str, str] = field(default_factory=dict)
    #: where every task Pod may run (a task's node_selector backend parameter adds to it)
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: list[dict[str, Any]] = field(default_factory=list)
    #: what users may ask for through backend_parameters (docs/kubernetes.md "Resources and
    #: parameters"); empty or 0: the parameter is refused (docs/security.md)
    allowed_priority_classes: tuple[str, ...] = ()
    allowed_runtime_classes: tuple[str, ...] = ()
    #: node_selector entries: "key" (any value) or "key=value" (that pair only)
    allowed_node_selectors: tuple[str, ...] = ()
    #: GPUs: the most a task may ask for with ``gpu`` (0: refused), the executors' extended resource,
    #: ``gpu_type`` names and the node labels each selects, tolerations a GPU task's Pod gets
    max_gpus: int = 0
    gpu_resource: str = "nvidia.com/gpu"
    gpu_types: dict[str, dict[str, str]] = field(default_factory=dict)
    gpu_tolerations: list[dict[str, Any]] = field(default_factory=list)
    #: a shared filesystem for file:// inputs and outputs, mounted into tif and tof
    shared_host_path: str | None = None
    shared_claim: str | None = None
    shared_mount_path: str | None = None
    #: the most seconds a task's Pod may run (POIESIS_MAX_TASK_SECONDS, shared with the local section; 0: none)
    max_task_seconds: int = 0

    def __post_init__(self) -> None:
        if self.max_task_seconds < 0:
            raise SettingsError("POIESIS_MAX_TASK_SECONDS must be 0 (no maximum) or more")
        if self.list_page < 0:
            raise SettingsError("POIESIS_KUBE_LIST_PAGE must be 0 (no pages) or more")
        if self.shared_host_path and self.shared_claim:
            raise SettingsError("POIESIS_KUBE_SHARED_HOST_PATH and POIESIS_KUBE_SHARED_CLAIM exclude each other")
        if self.shared_claim and not self.shared_mount_path:
            raise SettingsError("POIESIS_KUBE_SHARED_CLAIM needs POIESIS_KUBE_SHARED_MOUNT_PATH")
        self._check_node_selectors()
        mount = self.shared_mount
        if mount is not None and not mount.startswith("/"):
            raise SettingsError(f"the shared volume's mount path must be absolute, not {mount!r}")

    def _check_node_selectors(self) -> None:
        for entry in self.allowed_node_selectors:
            key = entry.partition("=")[0].strip()
            if not key:
                raise SettingsError(f"POIESIS_KUBE_ALLOWED_NODE_SELECTORS: {entry!r} is not key or key=value")
            if key in self.node_selector:
                raise SettingsError(
                    f"POIESIS_KUBE_ALLOWED_NODE_SELECTORS: {key!r} is fixed by POIESIS_KUBE_NODE_SELECTOR;"
                    " a task may not choose it"
                )
        if self.max_gpus < 0:
            raise SettingsError("POIESIS_KUBE_MAX_GPUS must be 0 (refused) or more")

    @property
    def shared_mount(self) -> str | None:
        """Where tif and tof see the shared volume (default: the host path itself), or None without one."""
        if not (self.shared_host_path or self.shared_claim):
            return None
        return self.shared_mount_path or self.shared_host_path

    @property
    def file_roots(self) -> tuple[str, ...]:
        """Directories file:// URLs may use in the Pod: the shared volume's mount, or none."""
        mount = self.shared_mount
        return (mount,) if mount else ()

    @classmethod
    def from_env(cls, e: Env) -> KubeSettings:
        """Settings from POIESIS_KUBE_* variables (and KUBECONFIG)."""
        d = cls()
        ttl = text(e, "POIESIS_KUBE_TTL_SECONDS")  # "none": Jobs stay until deleted
        ttl_default = d.ttl_seconds_after_finished or 0
        return cls(
            namespace=string(e, "POIESIS_KUBE_NAMESPACE", d.namespace),
            image=string(e, "POIESIS_KUBE_IMAGE", d.image),
            image_pull_policy=choice(e, "POIESIS_KUBE_IMAGE_PULL_POLICY", d.image_pull_policy, PULL_POLICIES),
            executor_image_pull_policy=choice(
                e, "POIESIS_KUBE_EXECUTOR_IMAGE_PULL_POLICY", d.executor_image_pull_policy, PULL_POLICIES
            ),
            service_account=text(e, "POIESIS_KUBE_SERVICE_ACCOUNT"),
            storage_class=text(e, "POIESIS_KUBE_STORAGE_CLASS"),
            default_disk_gb=number(e, "POIESIS_KUBE_DEFAULT_DISK_GB", d.default_disk_gb),
            ttl_seconds_after_finished=None if ttl == "none" else integer(e, "POIESIS_KUBE_TTL_SECONDS", ttl_default),
            database_secret=string(e, "POIESIS_KUBE_DATABASE_SECRET", d.database_secret),
            database_secret_key=string(e, "POIESIS_KUBE_DATABASE_SECRET_KEY", d.database_secret_key),
            filer_env_secret=text(e, "POIESIS_KUBE_FILER_ENV_SECRET"),
            pod_security_context=_or(json_object(e, "POIESIS_KUBE_POD_SECURITY_CONTEXT"), d.pod_security_context),
            container_security_context=_or(json_object(e, "POIESIS_KUBE_CONTAINER_SECURITY_CONTEXT"),
                                           d.container_security_context),
            executor_security_context=_or(
                json_object(e, "POIESIS_KUBE_EXECUTOR_SECURITY_CONTEXT"),
                dict(ROOT_EXECUTOR) if flag(e, "POIESIS_KUBE_EXECUTOR_AS_ROOT") else d.executor_security_context,
            ),
            transfer_volume=choice(e, "POIESIS_KUBE_TRANSFER_VOLUME", d.transfer_volume, TRANSFER_VOLUMES),
            trec_log_tail_bytes=integer(e, "POIESIS_KUBE_LOG_TAIL_BYTES", d.trec_log_tail_bytes),
            pending_timeout_s=number(e, "POIESIS_KUBE_PENDING_TIMEOUT", d.pending_timeout_s),
            cancel_grace_s=integer(e, "POIESIS_KUBE_CANCEL_GRACE", d.cancel_grace_s),
            queued_grace_s=number(e, "POIESIS_KUBE_QUEUED_GRACE", d.queued_grace_s),
            lease_name=string(e, "POIESIS_KUBE_LEASE_NAME", d.lease_name),
            lease_duration_s=number(e, "POIESIS_KUBE_LEASE_DURATION", d.lease_duration_s),
            lease_renew_s=number(e, "POIESIS_KUBE_LEASE_RENEW", d.lease_renew_s),
            resync_s=number(e, "POIESIS_KUBE_RESYNC", d.resync_s),
            list_page=integer(e, "POIESIS_KUBE_LIST_PAGE", d.list_page),
            submit_workers=integer(e, "POIESIS_KUBE_SUBMIT_WORKERS", d.submit_workers),
            submit_queue=integer(e, "POIESIS_KUBE_SUBMIT_QUEUE", d.submit_queue),
            kubeconfig=text(e, "POIESIS_KUBE_KUBECONFIG") or text(e, "KUBECONFIG"),
            extra_labels=dict(json_object(e, "POIESIS_KUBE_LABELS") or {}),
            node_selector={str(k): str(v) for k, v in (json_object(e, "POIESIS_KUBE_NODE_SELECTOR") or {}).items()},
            tolerations=json_array(e, "POIESIS_KUBE_TOLERATIONS"),
            allowed_priority_classes=words(e, "POIESIS_KUBE_ALLOWED_PRIORITY_CLASSES", spaces=True),
            allowed_runtime_classes=words(e, "POIESIS_KUBE_ALLOWED_RUNTIME_CLASSES", spaces=True),
            allowed_node_selectors=words(e, "POIESIS_KUBE_ALLOWED_NODE_SELECTORS", spaces=True),
            max_gpus=integer(e, "POIESIS_KUBE_MAX_GPUS", 0),
            gpu_resource=string(e, "POIESIS_KUBE_GPU_RESOURCE", d.gpu_resource),
            gpu_types=_gpu_types(json_object(e, "POIESIS_KUBE_GPU_TYPES") or {}),
            gpu_tolerations=json_array(e, "POIESIS_KUBE_GPU_TOLERATIONS"),
            shared_host_path=text(e, "POIESIS_KUBE_SHARED_HOST_PATH"),
            shared_claim=text(e, "POIESIS_KUBE_SHARED_CLAIM"),
            shared_mount_path=text(e, "POIESIS_KUBE_SHARED_MOUNT_PATH"),
            max_task_seconds=max_task_seconds(e),
        )


def _gpu_types(value: dict[str, Any]) -> dict[str, dict[str, str]]:
    """POIESIS_KUBE_GPU_TYPES: {"<gpu_type>": {"<node label>": "<value>", ...}, ...}."""
    out = {}
    for name, labels in value.items():
        if not isinstance(labels, dict) or not labels:
            raise SettingsError(f"POIESIS_KUBE_GPU_TYPES: {name!r} must map to a JSON object of node labels")
        out[str(name)] = {str(k): str(v) for k, v in labels.items()}
    return out
