"""The Kubernetes backend's configuration, read once from POIESIS_KUBE_* variables.

Every field has an environment variable (docs/kubernetes.md lists them) and
a default that works on the test cluster. Pure: reading the environment is
the only I/O, and only in ``from_env``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def _env(env: Mapping[str, str], name: str, default: str | None = None) -> str | None:
    value = env.get(name)
    return value if value not in (None, "") else default


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


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = _env(env, name)
    if value is None:
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be true or false, not {value!r}")


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = _env(env, name, default) or default
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def _pull_policy(env: Mapping[str, str], name: str, default: str) -> str:
    value = _env(env, name, default) or default
    if value not in PULL_POLICIES:
        raise ValueError(f"{name} must be one of {', '.join(PULL_POLICIES)}, not {value!r}")
    return value


def _json(env: Mapping[str, str], name: str) -> dict[str, Any] | None:
    raw = _env(env, name)
    if raw is None:
        return None
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise TypeError(f"{name} must be a JSON object")
    return value


def _json_list(env: Mapping[str, str], name: str) -> list[Any]:
    raw = _env(env, name)
    if raw is None:
        return []
    value = json.loads(raw)
    if not isinstance(value, list):
        raise TypeError(f"{name} must be a JSON array")
    return value


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
    #: threads submitting stored tasks to the API server, per process (0: submit inside the request)
    submit_workers: int = 32
    #: tasks that may wait for those threads; more are left QUEUED for TCtl's sweep
    submit_queue: int = 4096
    kubeconfig: str | None = None
    extra_labels: dict[str, str] = field(default_factory=dict)
    #: where every task Pod may run (a task's node_selector backend parameter adds to it)
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: list[dict[str, Any]] = field(default_factory=list)
    #: a shared filesystem for file:// inputs and outputs, mounted into tif and tof
    shared_host_path: str | None = None
    shared_claim: str | None = None
    shared_mount_path: str | None = None

    def __post_init__(self) -> None:
        if self.shared_host_path and self.shared_claim:
            raise ValueError("POIESIS_KUBE_SHARED_HOST_PATH and POIESIS_KUBE_SHARED_CLAIM exclude each other")
        if self.shared_claim and not self.shared_mount_path:
            raise ValueError("POIESIS_KUBE_SHARED_CLAIM needs POIESIS_KUBE_SHARED_MOUNT_PATH")
        mount = self.shared_mount
        if mount is not None and not mount.startswith("/"):
            raise ValueError(f"the shared volume's mount path must be absolute, not {mount!r}")

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
    def from_env(cls, env: Mapping[str, str] | None = None) -> KubeSettings:
        """Settings from POIESIS_KUBE_* variables (``env`` defaults to os.environ)."""
        e = os.environ if env is None else env
        d = cls()
        ttl = _env(e, "POIESIS_KUBE_TTL_SECONDS")
        return cls(
            namespace=_env(e, "POIESIS_KUBE_NAMESPACE", d.namespace) or d.namespace,
            image=_env(e, "POIESIS_KUBE_IMAGE", d.image) or d.image,
            image_pull_policy=_pull_policy(e, "POIESIS_KUBE_IMAGE_PULL_POLICY", d.image_pull_policy),
            executor_image_pull_policy=_pull_policy(
                e, "POIESIS_KUBE_EXECUTOR_IMAGE_PULL_POLICY", d.executor_image_pull_policy
            ),
            service_account=_env(e, "POIESIS_KUBE_SERVICE_ACCOUNT"),
            storage_class=_env(e, "POIESIS_KUBE_STORAGE_CLASS"),
            default_disk_gb=float(_env(e, "POIESIS_KUBE_DEFAULT_DISK_GB", str(d.default_disk_gb)) or 1),
            ttl_seconds_after_finished=(
                d.ttl_seconds_after_finished if ttl is None else (None if ttl == "none" else int(ttl))
            ),
            database_secret=_env(e, "POIESIS_KUBE_DATABASE_SECRET", d.database_secret) or d.database_secret,
            database_secret_key=_env(e, "POIESIS_KUBE_DATABASE_SECRET_KEY", d.database_secret_key)
            or d.database_secret_key,
            filer_env_secret=_env(e, "POIESIS_KUBE_FILER_ENV_SECRET"),
            pod_security_context=_or(_json(e, "POIESIS_KUBE_POD_SECURITY_CONTEXT"), d.pod_security_context),
            container_security_context=_or(_json(e, "POIESIS_KUBE_CONTAINER_SECURITY_CONTEXT"),
                                           d.container_security_context),
            executor_security_context=_or(
                _json(e, "POIESIS_KUBE_EXECUTOR_SECURITY_CONTEXT"),
                dict(ROOT_EXECUTOR) if _bool(e, "POIESIS_KUBE_EXECUTOR_AS_ROOT", False) else d.executor_security_context,
            ),
            transfer_volume=_choice(e, "POIESIS_KUBE_TRANSFER_VOLUME", d.transfer_volume, TRANSFER_VOLUMES),
            trec_log_tail_bytes=int(_env(e, "POIESIS_KUBE_LOG_TAIL_BYTES", str(d.trec_log_tail_bytes)) or 0),
            pending_timeout_s=float(_env(e, "POIESIS_KUBE_PENDING_TIMEOUT", str(d.pending_timeout_s)) or 300),
            cancel_grace_s=int(_env(e, "POIESIS_KUBE_CANCEL_GRACE", str(d.cancel_grace_s)) or 0),
            queued_grace_s=float(_env(e, "POIESIS_KUBE_QUEUED_GRACE", str(d.queued_grace_s)) or 120),
            lease_name=_env(e, "POIESIS_KUBE_LEASE_NAME", d.lease_name) or d.lease_name,
            lease_duration_s=float(_env(e, "POIESIS_KUBE_LEASE_DURATION", str(d.lease_duration_s)) or 15),
            lease_renew_s=float(_env(e, "POIESIS_KUBE_LEASE_RENEW", str(d.lease_renew_s)) or 5),
            resync_s=float(_env(e, "POIESIS_KUBE_RESYNC", str(d.resync_s)) or 10),
            submit_workers=int(_env(e, "POIESIS_KUBE_SUBMIT_WORKERS", str(d.submit_workers)) or 0),
            submit_queue=int(_env(e, "POIESIS_KUBE_SUBMIT_QUEUE", str(d.submit_queue)) or 0),
            kubeconfig=_env(e, "POIESIS_KUBE_KUBECONFIG") or _env(e, "KUBECONFIG"),
            extra_labels=dict(_json(e, "POIESIS_KUBE_LABELS") or {}),
            node_selector={str(k): str(v) for k, v in (_json(e, "POIESIS_KUBE_NODE_SELECTOR") or {}).items()},
            tolerations=_json_list(e, "POIESIS_KUBE_TOLERATIONS"),
            shared_host_path=_env(e, "POIESIS_KUBE_SHARED_HOST_PATH"),
            shared_claim=_env(e, "POIESIS_KUBE_SHARED_CLAIM"),
            shared_mount_path=_env(e, "POIESIS_KUBE_SHARED_MOUNT_PATH"),
        )
