"""Pure builders: a TES task (the generated ``TesTask``) and the settings in, Kubernetes manifests (dicts) out.

No client, no I/O: ``backend`` creates what these return. The Pod follows
the pod contract (docs/kubernetes.md): init containers ``trec`` (native
sidecar), ``tif``, ``executor-0`` … ``executor-N`` in order; main container
``tof``; the task PVC at /transfer in all of them; a TES path P lives on the
PVC at files/P and executors see it at P through subPath mounts (``poiesis.layout``
owns both rules).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from generated.models import TesExecutor, TesResources, TesTask
from poiesis import layout, parameters, scheduling, units
from poiesis.config.kube import KubeSettings

TASK_LABEL = "poiesis.io/task"
#: the recommended app.kubernetes.io labels on everything made for a task (the chart adds instance)
APP_LABELS = {
    "app.kubernetes.io/name": "poiesis",
    "app.kubernetes.io/component": "task",
    "app.kubernetes.io/part-of": "poiesis",
    "app.kubernetes.io/managed-by": "poiesis",
}
TRANSFER = "/transfer"
TASK_DIR = "/etc/poiesis"
TASK_FILE = f"{TASK_DIR}/task.json"
TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
TERMINATION_LOG = "/dev/termination-log"
#: the key of the task's Secret holding the task's secret (TRec's only; the filers mount task.json alone)
TREC_SECRET_KEY = "trec-secret"
#: TRec listens on this TCP port once its watch is set up; its startupProbe connects to it (a TCP
#: probe is the kubelet's own connect; an exec probe costs a runc exec per Pod per period)
TREC_READY_PORT = 9655
#: a writable /tmp for trec, tif and tof, whose image filesystem is read-only by default
TMP_DIR = "/tmp"
#: how long TRec may take to become ready before the kubelet restarts it
TREC_STARTUP_S = 120
#: what the ignore_error wrapper writes to the termination message
EXIT_CODE_PREFIX = "poiesis-exit-code="
#: tesTask members the server sets: never part of the task file the filers read
READ_ONLY = frozenset({"id", "state", "logs", "creation_time"})
_POIESIS_RESOURCES = {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"memory": "512Mi"}}


def job_name(task_id: str) -> str:
    """Name of the task's Job, Secret and PVC."""
    return f"poiesis-{task_id}"


def labels(task_id: str, cfg: KubeSettings) -> dict[str, str]:
    """Labels on everything made for a task."""
    return {**APP_LABELS, **cfg.extra_labels, TASK_LABEL: task_id}


def owner_reference(*, name: str, uid: str) -> dict[str, Any]:
    """An ownerReference to the task's Job, so the garbage collector removes dependents with it."""
    return {"apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": uid, "blockOwnerDeletion": True}


# -- Job and Pod ---------------------------------------------------------------


def build_job(task_id: str, task: TesTask, cfg: KubeSettings, *, suspend: bool = False) -> dict[str, Any]:
    """The task's Job: one Pod, never retried; created running (its Pod waits for its Secret and PVC anyway).

    Raises ``parameters.Refused`` when the task's backend_parameters are not allowed by ``cfg``.
    """
    spec: dict[str, Any] = {
        "backoffLimit": 0,
        "suspend": suspend,
        "template": {"metadata": {"labels": labels(task_id, cfg)}, "spec": build_pod_spec(task_id, task, cfg)},
    }
    if cfg.ttl_seconds_after_finished is not None:
        spec["ttlSecondsAfterFinished"] = cfg.ttl_seconds_after_finished
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": job_name(task_id), "namespace": cfg.namespace, "labels": labels(task_id, cfg)},
        "spec": spec,
    }


def build_pod_spec(task_id: str, task: TesTask, cfg: KubeSettings) -> dict[str, Any]:
    """The Pod: recorder sidecar, input filer, executors, output filer."""
    params = backend_parameters(task, cfg)
    gpus = int(params["gpu"]) if "gpu" in params else 0
    spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "initContainers": [
            _trec(task_id, cfg),
            _filer("tif", "in", cfg),
            *(_executor(i, x, task, cfg, gpus=gpus) for i, x in enumerate(task.executors)),
        ],
        "containers": [_filer("tof", "out", cfg)],
        "volumes": _volumes(task_id, task, cfg),
    }
    if cfg.service_account:
        spec["serviceAccountName"] = cfg.service_account
    if cfg.pod_security_context:
        spec["securityContext"] = json.loads(json.dumps(cfg.pod_security_context))
    _placement(spec, task, cfg, params)
    _time_limit(spec, task, cfg)
    return spec


def _time_limit(spec: dict[str, Any], task: TesTask, cfg: KubeSettings) -> None:
    """The task's time limit (``scheduling.time_limit``) as the Pod's activeDeadlineSeconds.

    On the Pod, not the Job: the kubelet then fails the Pod with reason DeadlineExceeded,
    which ``outcome`` reads as the limit reached, and counts from the Pod's start on its
    node, not from the time it waited for one. The Job's deadline would delete the Pod
    without saying why (docs/kubernetes.md).
    """
    seconds = scheduling.time_limit(task.resources.backend_parameters if task.resources else None, cfg.max_task_seconds)
    if seconds is not None:
        spec["activeDeadlineSeconds"] = seconds


def transfer_volume(task_id: str, task: TesTask, cfg: KubeSettings) -> dict[str, Any]:
    """The task volume: the task's PVC, or an emptyDir limited to disk_gb (POIESIS_KUBE_TRANSFER_VOLUME).

    An emptyDir is world-writable (any uid may write it, as "restricted" Pods must) and
    needs no provisioner; it lives on the node's disk and goes with the Pod.
    """
    if cfg.transfer_volume == "emptyDir":
        return {"name": "transfer", "emptyDir": {"sizeLimit": str(disk_bytes(task, cfg))}}
    return {"name": "transfer", "persistentVolumeClaim": {"claimName": job_name(task_id)}}


def _volumes(task_id: str, task: TesTask, cfg: KubeSettings) -> list[dict[str, Any]]:
    return [
        transfer_volume(task_id, task, cfg),
        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
        {"name": "task", "secret": {"secretName": job_name(task_id), "items": [{"key": "task.json", "path": "task.json"}]}},
        {
            "name": "trec-token",
            "projected": {
                "sources": [
                    {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}},
                    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                    {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
                ]
            },
        },
        *_shared_volume(cfg),
    ]


def _shared_volume(cfg: KubeSettings) -> list[dict[str, Any]]:
    """The shared filesystem for file:// URLs (a node directory or an existing claim), when configured."""
    if cfg.shared_host_path:
        return [{"name": "shared", "hostPath": {"path": cfg.shared_host_path, "type": "Directory"}}]
    if cfg.shared_claim:
        return [{"name": "shared", "persistentVolumeClaim": {"claimName": cfg.shared_claim}}]
    return []


def trec_startup_probe() -> dict[str, Any]:
    """The kubelet starts tif only once this passes: TRec is up, its SIGTERM handler and watch in place."""
    return {
        "tcpSocket": {"port": TREC_READY_PORT},
        "periodSeconds": 1,
        "timeoutSeconds": 5,
        "failureThreshold": TREC_STARTUP_S,
    }


def _field_env(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def _trec(task_id: str, cfg: KubeSettings) -> dict[str, Any]:
    """The recorder: the only container holding a database URL and an API token.

    The URL is the task credential's (``database_secret``: a role that may only call the
    ``task_record_*`` functions), and the task's secret (from the task's own Secret, optional:
    a Secret made without one leaves TRec on the URL's own privileges) opens its task alone.
    """
    return _poiesis_container(
        "trec",
        ["poiesis", "trec"],
        cfg,
        restartPolicy="Always",
        env=[
            _field_env("POIESIS_POD_NAME", "metadata.name"),
            _field_env("POIESIS_POD_NAMESPACE", "metadata.namespace"),
            {"name": "POIESIS_TASK_ID", "value": task_id},
            {"name": "POIESIS_TRANSFER_DIR", "value": TRANSFER},
            {"name": "POIESIS_KUBE_LOG_TAIL_BYTES", "value": str(cfg.trec_log_tail_bytes)},
            {"name": "POIESIS_TREC_READY_PORT", "value": str(TREC_READY_PORT)},
            {
                "name": "POIESIS_DATABASE_URL",
                "valueFrom": {"secretKeyRef": {"name": cfg.database_secret, "key": cfg.database_secret_key}},
            },
            {
                "name": "POIESIS_TASK_SECRET",
                "valueFrom": {"secretKeyRef": {"name": job_name(task_id), "key": TREC_SECRET_KEY, "optional": True}},
            },
        ],
        volumeMounts=[
            {"name": "transfer", "mountPath": TRANSFER, "readOnly": True},
            {"name": "trec-token", "mountPath": TOKEN_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": TMP_DIR},
        ],
        startupProbe=trec_startup_probe(),
    )


def _filer(name: str, direction: str, cfg: KubeSettings) -> dict[str, Any]:
    container = _poiesis_container(
        name,
        ["poiesis", "filer", direction, "--task", TASK_FILE, "--root", TRANSFER, "--termination-log", TERMINATION_LOG],
        cfg,
        volumeMounts=[
            {"name": "transfer", "mountPath": TRANSFER},
            {"name": "task", "mountPath": TASK_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": TMP_DIR},
        ],
    )
    if cfg.shared_mount:
        container["volumeMounts"].append({"name": "shared", "mountPath": cfg.shared_mount})
        container["env"] = [{"name": "POIESIS_FILER_FILE_ROOTS", "value": ":".join(cfg.file_roots)}]
    if cfg.filer_env_secret:
        container["envFrom"] = [{"secretRef": {"name": cfg.filer_env_secret}}]
    return container


def _poiesis_container(name: str, command: list[str], cfg: KubeSettings, **extra: Any) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": name,
        "image": cfg.image,
        "imagePullPolicy": cfg.image_pull_policy,
        "command": command,
        "resources": _POIESIS_RESOURCES,
        "terminationMessagePath": TERMINATION_LOG,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        **extra,
    }
    if cfg.container_security_context:
        container["securityContext"] = json.loads(json.dumps(cfg.container_security_context))
    return container


# -- executors -------------------------------------------------------------------


def _executor(index: int, executor: TesExecutor, task: TesTask, cfg: KubeSettings, *, gpus: int) -> dict[str, Any]:
    command, wrapper_env = executor_command(executor)
    env = [{"name": k, "value": str(v)} for k, v in (executor.env or {}).items()]
    container: dict[str, Any] = {
        "name": f"executor-{index}",
        "image": executor.image,
        "imagePullPolicy": cfg.executor_image_pull_policy,
        "command": command,
        "env": env + wrapper_env,
        "volumeMounts": volume_mounts(task),
        "terminationMessagePath": TERMINATION_LOG,
        "terminationMessagePolicy": "File",
    }
    if executor.workdir:
        container["workingDir"] = executor.workdir
    resources = executor_resources(task.resources)
    if gpus:  # an extended resource: a limit only (its request is the same); init containers run one at a time
        resources.setdefault("limits", {})[cfg.gpu_resource] = str(gpus)
    if resources:
        container["resources"] = resources
    if cfg.executor_security_context:
        container["securityContext"] = json.loads(json.dumps(cfg.executor_security_context))
    return container


def executor_command(executor: TesExecutor) -> tuple[list[str], list[dict[str, str]]]:
    """The container command and the env it needs.

    The TES command runs as is (no shell) unless the executor redirects
    stdin/stdout/stderr or sets ignore_error; then ``/bin/sh -c`` wraps it
    (so the image needs /bin/sh). The command stays a list of arguments
    ("$@"), and the file paths travel in env, so nothing is re-quoted. With
    ignore_error the wrapper writes ``poiesis-exit-code=N`` to the
    termination message and exits 0, so the next executor runs and the real
    code is still recorded.
    """
    command = list(executor.command)
    env, redirects = [], ""
    for field_name, op, path in (
        ("stdin", "<", executor.stdin), ("stdout", ">", executor.stdout), ("stderr", "2>", executor.stderr)
    ):
        if path:
            var = f"POIESIS_{field_name.upper()}"
            env.append({"name": var, "value": path})
            redirects += f' {op}"${var}"'
    ignore = bool(executor.ignore_error)
    if not redirects and not ignore:
        return command, []
    if ignore:
        script = (
            f'"$@"{redirects}\nrc=$?\n'
            f'printf "{EXIT_CODE_PREFIX}%d\\n" "$rc" >{TERMINATION_LOG} 2>/dev/null\nexit 0'
        )
    else:
        script = f'exec "$@"{redirects}'
    return ["/bin/sh", "-c", script, "poiesis-executor", *command], env


def executor_resources(resources: TesResources | None) -> dict[str, Any]:
    """TES cpu_cores -> CPU request (millicores when fractional); ram_gb (GiB) -> memory request and limit, in bytes.

    Both rounded up, exactly (``poiesis.units``): 0.5 cores is ``500m``, 0.1 GiB 107374183 bytes.
    """
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}
    if resources is None:
        return {}
    if resources.cpu_cores:
        requests["cpu"] = units.cpu_quantity(resources.cpu_cores)
    if resources.ram_gb:
        requests["memory"] = limits["memory"] = str(units.gib_bytes(resources.ram_gb))
    out: dict[str, Any] = {}
    if requests:
        out["requests"] = requests
    if limits:
        out["limits"] = limits
    return out


def volume_mounts(task: TesTask) -> list[dict[str, Any]]:
    """Executor mounts: each of ``layout.mounts`` at its TES path P, from the task volume's files/P."""
    return [
        {"name": "transfer", "mountPath": m.path, "subPath": layout.volume_path(m.path)}
        for m in layout.mounts(task)
    ]


# -- placement and parameters ----------------------------------------------------


def parameter_policy(cfg: KubeSettings) -> parameters.Policy:
    """The backend_parameters this backend implements, each under its setting (docs/kubernetes.md)."""
    return parameters.Policy((
        parameters.Allowance("node_selector", "POIESIS_KUBE_ALLOWED_NODE_SELECTORS", "selector",
                             allowed=cfg.allowed_node_selectors),
        parameters.Allowance("priority_class", "POIESIS_KUBE_ALLOWED_PRIORITY_CLASSES",
                             allowed=cfg.allowed_priority_classes),
        parameters.Allowance("runtime_class", "POIESIS_KUBE_ALLOWED_RUNTIME_CLASSES",
                             allowed=cfg.allowed_runtime_classes),
        scheduling.time_limit_allowance(cfg.max_task_seconds),
        parameters.Allowance("gpu", "POIESIS_KUBE_MAX_GPUS", "count", maximum=cfg.max_gpus),
        parameters.Allowance("gpu_type", "POIESIS_KUBE_GPU_TYPES", allowed=tuple(sorted(cfg.gpu_types)), needs="gpu"),
    ))


def backend_parameters(task: TesTask, cfg: KubeSettings) -> dict[str, str]:
    """The task's backend_parameters this backend implements; raises ``parameters.Refused`` for any not allowed.

    CreateTask refused these already; this second check keeps the builder from ever
    writing what the settings (perhaps narrowed since the task was stored) do not allow.
    """
    return parameter_policy(cfg).check(task.resources.backend_parameters if task.resources else None)


def _placement(spec: dict[str, Any], task: TesTask, cfg: KubeSettings, params: Mapping[str, str]) -> None:
    """Where the Pod may run: the task's node_selector, its gpu_type's labels, then the operator's selector
    (last: a task never overrides it; the settings refuse to allow its keys); the tolerations."""
    selector = {
        **parameters.parse_selector(params.get("node_selector", "")),
        **cfg.gpu_types.get(params.get("gpu_type", ""), {}),
        **cfg.node_selector,
    }
    if selector:
        spec["nodeSelector"] = selector
    tolerations = [*cfg.tolerations, *(cfg.gpu_tolerations if "gpu" in params else ())]
    if tolerations:
        spec["tolerations"] = [dict(t) for t in tolerations]
    if "priority_class" in params:
        spec["priorityClassName"] = params["priority_class"]
    if "runtime_class" in params:
        spec["runtimeClassName"] = params["runtime_class"]
    zones = task.resources.zones if task.resources else None
    if zones:
        term = {"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": list(zones)}]}
        spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}}


# -- Secret and PVC ----------------------------------------------------------------


def build_secret(task_id: str, task: TesTask, cfg: KubeSettings, *, owner: Mapping[str, Any],
                 trec_secret: str | None = None) -> dict[str, Any]:
    """The task JSON for the filers (a Secret: input URLs may carry credentials): the task as submitted, and its id.

    ``trec_secret``: the task's secret, for TRec alone (``TREC_SECRET_KEY``; docs/security.md).
    """
    body = task.model_dump(mode="json", exclude_none=True, exclude=set(READ_ONLY))
    body["id"] = task_id
    data = {"task.json": json.dumps(body, separators=(",", ":"))}
    if trec_secret is not None:
        data[TREC_SECRET_KEY] = trec_secret
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _owned_meta(task_id, cfg, owner),
        "type": "Opaque",
        "stringData": data,
    }


def disk_bytes(task: TesTask, cfg: KubeSettings) -> int:
    """PVC size: the task's disk_gb (GiB) or the configured default, in bytes rounded up (``poiesis.units``)."""
    disk = (task.resources.disk_gb if task.resources else None) or cfg.default_disk_gb
    return units.gib_bytes(disk)


def build_pvc(task_id: str, task: TesTask, cfg: KubeSettings, *, owner: Mapping[str, Any]) -> dict[str, Any]:
    """The task's transfer volume, removed with its Job."""
    spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": str(disk_bytes(task, cfg))}},
    }
    if cfg.storage_class:
        spec["storageClassName"] = cfg.storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": _owned_meta(task_id, cfg, owner),
        "spec": spec,
    }


def _owned_meta(task_id: str, cfg: KubeSettings, owner: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": job_name(task_id),
        "namespace": cfg.namespace,
        "labels": labels(task_id, cfg),
        "ownerReferences": [dict(owner)],
    }
