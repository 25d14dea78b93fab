"""The pure builders: a task and settings in, Job/Pod/Secret/PVC manifests out."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from poiesis import parameters
from poiesis.config.kube import KubeSettings
from poiesis.kube import build
from tests.tasks import HOSTILE_PARAMETERS, tes_executor, tes_task

#: what TASK's backend_parameters need allowed
ALLOW = {"allowed_node_selectors": ("disk", "pool=batch"), "allowed_priority_classes": ("low",)}
CFG = KubeSettings(namespace="ns", image="poiesis:test", service_account="poiesis-pod", **ALLOW)
TASK = {
    "inputs": [
        {"url": "s3://b/in.txt", "path": "/data/in.txt", "type": "FILE"},
        {"url": "s3://b/ref.fa", "path": "/ref/genome.fa", "type": "FILE"},
        {"url": "s3://b/dir", "path": "/indir", "type": "DIRECTORY"},
    ],
    "outputs": [
        {"url": "s3://b/out.txt", "path": "/data/out.txt", "type": "FILE"},
        {"url": "s3://b/logs/", "path": "/work/logs/*.log", "path_prefix": "/work/logs", "type": "FILE"},
    ],
    "volumes": ["/scratch", "/data/tmp"],
    "executors": [
        {"image": "ubuntu:24.04", "command": ["cat", "/data/in.txt"], "stdout": "/data/out.txt", "env": {"A": "1"}},
        {"image": "alpine:3", "command": ["false"], "ignore_error": True, "workdir": "/scratch"},
        {"image": "alpine:3", "command": ["echo", "it's \"quoted\" $HOME"]},
    ],
    "resources": {"cpu_cores": 2, "ram_gb": 1.5, "disk_gb": 10, "zones": ["z1"],
                  "backend_parameters": {"node_selector": "disk=ssd, pool=batch", "priority_class": "low"}},
}


LABELS = {"poiesis.io/task": "t1", "app.kubernetes.io/name": "poiesis", "app.kubernetes.io/component": "task",
          "app.kubernetes.io/part-of": "poiesis", "app.kubernetes.io/managed-by": "poiesis"}


def _pod(task=TASK, cfg=CFG):
    return build.build_job("t1", tes_task(task), dataclasses.replace(cfg, **ALLOW))["spec"]["template"]["spec"]


def test_job_shape() -> None:
    """One Pod, never retried, labelled with the task, created running (no resume request), TTL from settings."""
    job = build.build_job("t1", tes_task(TASK), CFG)
    assert job["metadata"] == {"name": "poiesis-t1", "namespace": "ns", "labels": LABELS}
    assert job["spec"]["backoffLimit"] == 0 and job["spec"]["suspend"] is False
    assert job["spec"]["ttlSecondsAfterFinished"] == 300
    assert job["spec"]["template"]["metadata"]["labels"] == LABELS
    kept = dataclasses.replace(CFG, ttl_seconds_after_finished=None)
    assert "ttlSecondsAfterFinished" not in build.build_job("t1", tes_task(TASK), kept)["spec"]


def test_pod_layout() -> None:
    """trec is a native sidecar first, then tif, executors in order; tof is the main container."""
    pod = _pod()
    assert pod["restartPolicy"] == "Never"
    assert [c["name"] for c in pod["initContainers"]] == ["trec", "tif", "executor-0", "executor-1", "executor-2"]
    assert [c["name"] for c in pod["containers"]] == ["tof"]
    assert pod["initContainers"][0]["restartPolicy"] == "Always"
    assert all("restartPolicy" not in c for c in pod["initContainers"][1:])
    assert pod["serviceAccountName"] == "poiesis-pod"


def test_transfer_volume_everywhere() -> None:
    """Every container mounts the task PVC; poiesis containers at /transfer, executors by subPath."""
    pod = _pod()
    assert pod["volumes"][0] == {"name": "transfer", "persistentVolumeClaim": {"claimName": "poiesis-t1"}}
    for c in pod["initContainers"] + pod["containers"]:
        assert any(m["name"] == "transfer" for m in c["volumeMounts"]), c["name"]
    for c in [pod["initContainers"][0], pod["initContainers"][1], pod["containers"][0]]:
        assert {"name": "transfer", "mountPath": "/transfer"}.items() <= next(
            m for m in c["volumeMounts"] if m["name"] == "transfer").items()


def test_only_trec_gets_credentials() -> None:
    """The database URL and the API token reach trec only; executors get neither."""
    pod = _pod()
    assert pod["automountServiceAccountToken"] is False
    trec = pod["initContainers"][0]
    db = next(e for e in trec["env"] if e["name"] == "POIESIS_DATABASE_URL")
    assert db["valueFrom"]["secretKeyRef"] == {"name": "poiesis-db", "key": "url"}
    assert any(m["name"] == "trec-token" for m in trec["volumeMounts"])
    for c in pod["initContainers"][1:] + pod["containers"]:
        assert all(m["name"] != "trec-token" for m in c["volumeMounts"])
        assert all("DATABASE" not in e["name"] for e in c.get("env", []))


def test_executor_mounts_are_the_layouts_mounts_from_the_task_volume() -> None:
    """Each executor mounts every one of layout.mounts at its path, from files/<path> on the task volume."""
    for executor in _pod()["initContainers"][2:]:
        assert executor["volumeMounts"] == [
            {"name": "transfer", "mountPath": "/data", "subPath": "files/data"},
            {"name": "transfer", "mountPath": "/indir", "subPath": "files/indir"},
            {"name": "transfer", "mountPath": "/ref/genome.fa", "subPath": "files/ref/genome.fa"},
            {"name": "transfer", "mountPath": "/scratch", "subPath": "files/scratch"},
            {"name": "transfer", "mountPath": "/work/logs", "subPath": "files/work/logs"},
        ]


def test_plain_command_runs_without_a_shell() -> None:
    """No redirection, no ignore_error: the TES command is the container command, unchanged."""
    ex = _pod()["initContainers"][4]
    assert ex["command"] == ["echo", "it's \"quoted\" $HOME"]


def test_redirection_wraps_in_sh_without_requoting() -> None:
    """stdout redirection: /bin/sh -c with the command as "$@" and the path in env."""
    ex = _pod()["initContainers"][2]
    assert ex["command"] == ["/bin/sh", "-c", 'exec "$@" >"$POIESIS_STDOUT"', "poiesis-executor", "cat", "/data/in.txt"]
    assert {"name": "POIESIS_STDOUT", "value": "/data/out.txt"} in ex["env"]
    assert {"name": "A", "value": "1"} in ex["env"]


def test_ignore_error_wrapper() -> None:
    """ignore_error: the wrapper records the code in the termination message and exits 0."""
    ex = _pod()["initContainers"][3]
    script = ex["command"][2]
    assert script.startswith('"$@"\nrc=$?\n') and script.endswith("exit 0")
    assert "poiesis-exit-code=%d" in script and "/dev/termination-log" in script
    assert ex["terminationMessagePath"] == "/dev/termination-log"
    assert ex["workingDir"] == "/scratch"


def test_ignore_error_wrapper_really_behaves(tmp_path) -> None:
    """Run through a real /bin/sh: the command's code lands in the message file, the shell exits 0."""
    import subprocess

    command, env = build.executor_command(tes_executor({"image": "alpine", "command": ["sh", "-c", "echo hi; exit 7"],
                                                        "ignore_error": True, "stdout": str(tmp_path / "out")}))
    script = command[2].replace("/dev/termination-log", str(tmp_path / "msg"))
    proc = subprocess.run([command[0], "-c", script, *command[3:]], check=False, env={e["name"]: e["value"] for e in env})
    assert proc.returncode == 0
    assert (tmp_path / "msg").read_text() == "poiesis-exit-code=7\n"
    assert (tmp_path / "out").read_text() == "hi\n"


def test_resources() -> None:
    """cpu_cores -> cpu request; ram_gb GiB -> memory request and limit; disk_gb -> PVC size."""
    ex = _pod()["initContainers"][2]
    assert ex["resources"] == {"requests": {"cpu": "2", "memory": str(int(1.5 * 2**30))},
                               "limits": {"memory": str(int(1.5 * 2**30))}}
    owner = build.owner_reference(name="poiesis-t1", uid="u")
    pvc = build.build_pvc("t1", tes_task(TASK), CFG, owner=owner)
    assert pvc["spec"]["resources"]["requests"]["storage"] == str(10 * 2**30)
    assert build.build_pvc("t1", tes_task({"executors": []}), CFG, owner=owner)["spec"]["resources"]["requests"]["storage"] == str(2**30)


def test_placement_from_backend_parameters_and_zones() -> None:
    """node_selector, priority_class and zones shape where the Pod may run."""
    pod = _pod()
    assert pod["nodeSelector"] == {"disk": "ssd", "pool": "batch"}
    assert pod["priorityClassName"] == "low"
    term = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
    assert term["matchExpressions"][0]["values"] == ["z1"]


def test_placement_settings_apply_to_every_pod() -> None:
    """The configured node selector and tolerations reach every Pod; a task's node_selector adds to them."""
    toleration = {"key": "poiesis.io/realnode", "operator": "Exists", "effect": "NoSchedule"}
    cfg = dataclasses.replace(CFG, node_selector={"zone": "a"}, tolerations=[toleration])
    pod = build.build_pod_spec("t1", tes_task(TASK), cfg)
    assert pod["nodeSelector"] == {"pool": "batch", "zone": "a", "disk": "ssd"}
    assert pod["tolerations"] == [toleration]
    bare = build.build_pod_spec("t1", tes_task({"executors": TASK["executors"]}), CFG)
    assert "nodeSelector" not in bare and "tolerations" not in bare


def _with(params: dict[str, str]) -> dict:
    return {"executors": TASK["executors"], "resources": {"backend_parameters": params}}


@pytest.mark.parametrize(("params", "setting"), HOSTILE_PARAMETERS, ids=[s for _, s in HOSTILE_PARAMETERS])
def test_the_builder_refuses_parameters_the_settings_do_not_allow(params, setting) -> None:
    """Defence in depth: whatever reached the store, the builder writes no parameter its settings refuse."""
    with pytest.raises(parameters.Refused, match=setting):
        build.build_job("t1", tes_task(_with(params)), KubeSettings())


def test_the_builder_refuses_a_value_outside_the_allowlist() -> None:
    """An allowed key with a value the allowlist lacks: refused, naming value and setting."""
    with pytest.raises(parameters.Refused, match=r"'system-node-critical' is not allowed .*PRIORITY_CLASSES allows low"):
        build.build_job("t1", tes_task(_with({"priority_class": "system-node-critical"})), CFG)
    with pytest.raises(parameters.Refused, match="pool='gpu' is not allowed"):
        build.build_job("t1", tes_task(_with({"node_selector": "pool=gpu"})), CFG)


def test_allowed_parameters_land_in_the_job() -> None:
    """Each allowed parameter lands where docs/kubernetes.md says (keys in any case)."""
    cfg = dataclasses.replace(CFG, allowed_runtime_classes=("gvisor",), max_task_seconds=3600)
    job = build.build_job("t1", tes_task(_with({"Runtime_Class": "gvisor", "active_deadline_seconds": "3600",
                                                "priority_class": "low", "node_selector": "disk=nvme"})), cfg)
    pod = job["spec"]["template"]["spec"]
    assert pod["activeDeadlineSeconds"] == 3600
    assert (pod["runtimeClassName"], pod["priorityClassName"], pod["nodeSelector"]) == ("gvisor", "low", {"disk": "nvme"})


def test_secret_and_pvc_owned_by_the_job() -> None:
    """Secret and PVC carry the task label and an ownerReference to the Job; the Secret holds the task JSON."""
    owner = build.owner_reference(name="poiesis-t1", uid="u-1")
    secret = build.build_secret("t1", tes_task(TASK), CFG, owner=owner)
    pvc = build.build_pvc("t1", tes_task(TASK), CFG, owner=owner)
    for obj in (secret, pvc):
        assert obj["metadata"]["ownerReferences"] == [owner]
        assert obj["metadata"]["labels"] == LABELS
        assert obj["metadata"]["name"] == "poiesis-t1"
    body = json.loads(secret["stringData"]["task.json"])
    assert body["id"] == "t1" and body["executors"] == TASK["executors"]
    assert build.TREC_SECRET_KEY not in secret["stringData"]


def test_the_task_secret_reaches_trec_alone() -> None:
    """The task's secret is in its own Secret; TRec takes it as env, the filers mount task.json only, executors nothing."""
    owner = build.owner_reference(name="poiesis-t1", uid="u-1")
    secret = build.build_secret("t1", tes_task(TASK), CFG, owner=owner, trec_secret="s" * 64)
    assert secret["stringData"][build.TREC_SECRET_KEY] == "s" * 64
    pod = _pod()
    trec = pod["initContainers"][0]
    env = next(e for e in trec["env"] if e["name"] == "POIESIS_TASK_SECRET")
    assert env["valueFrom"]["secretKeyRef"] == {"name": build.job_name("t1"), "key": build.TREC_SECRET_KEY,
                                                "optional": True}
    (task_volume,) = [v for v in pod["volumes"] if v["name"] == "task"]
    assert task_volume["secret"]["items"] == [{"key": "task.json", "path": "task.json"}]
    for c in pod["initContainers"][1:] + pod["containers"]:
        assert all("secretKeyRef" not in (e.get("valueFrom") or {}) for e in c.get("env", [])), c["name"]


def test_security_contexts_from_settings() -> None:
    """Pod, poiesis-container and executor security contexts come from the settings."""
    cfg = KubeSettings(pod_security_context={"runAsNonRoot": True},
                       container_security_context={"readOnlyRootFilesystem": True},
                       executor_security_context={"allowPrivilegeEscalation": False})
    pod = _pod(cfg=cfg)
    assert pod["securityContext"] == {"runAsNonRoot": True}
    assert pod["initContainers"][0]["securityContext"] == {"readOnlyRootFilesystem": True}
    assert pod["initContainers"][2]["securityContext"] == {"allowPrivilegeEscalation": False}


def test_restricted_by_default() -> None:
    """Without settings every container meets Pod Security "restricted"; the Pod has no Service env."""
    pod = _pod(cfg=KubeSettings())
    assert pod["enableServiceLinks"] is False
    assert pod["securityContext"] == {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                                      "fsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"}}
    for container in pod["initContainers"] + pod["containers"]:
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False and context["capabilities"] == {"drop": ["ALL"]}
        assert "runAsUser" not in context  # the Pod's non-root uid holds
        poiesis = not container["name"].startswith("executor-")
        assert context.get("readOnlyRootFilesystem", False) is poiesis, container["name"]
        if poiesis:  # a writable /tmp on an emptyDir instead of the image's
            assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}} in pod["volumes"]


def test_executors_as_root_and_empty_contexts() -> None:
    """POIESIS_KUBE_EXECUTOR_AS_ROOT runs executors as uid 0 (baseline); "{}" leaves a context out."""
    cfg = KubeSettings.from_env({"POIESIS_KUBE_EXECUTOR_AS_ROOT": "true", "POIESIS_KUBE_POD_SECURITY_CONTEXT": "{}"})
    pod = _pod(cfg=cfg)
    assert "securityContext" not in pod
    assert pod["initContainers"][2]["securityContext"] == {
        "runAsNonRoot": False, "runAsUser": 0, "runAsGroup": 0, "allowPrivilegeEscalation": False}
    assert pod["initContainers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
    with pytest.raises(ValueError, match="true or false"):
        KubeSettings.from_env({"POIESIS_KUBE_EXECUTOR_AS_ROOT": "maybe"})


def test_transfer_volume_empty_dir() -> None:
    """POIESIS_KUBE_TRANSFER_VOLUME=emptyDir: the task volume is an emptyDir limited to disk_gb, no claim."""
    cfg = KubeSettings.from_env({"POIESIS_KUBE_TRANSFER_VOLUME": "emptyDir"})
    volume = next(v for v in _pod(cfg=cfg)["volumes"] if v["name"] == "transfer")
    assert volume == {"name": "transfer", "emptyDir": {"sizeLimit": str(10 * 2**30)}}
    pvc_volume = next(v for v in _pod()["volumes"] if v["name"] == "transfer")
    assert pvc_volume == {"name": "transfer", "persistentVolumeClaim": {"claimName": "poiesis-t1"}}
    with pytest.raises(ValueError, match="pvc, emptyDir"):
        KubeSettings.from_env({"POIESIS_KUBE_TRANSFER_VOLUME": "hostPath"})


def test_settings_from_env() -> None:
    """POIESIS_KUBE_* variables set the fields; JSON ones parse."""
    cfg = KubeSettings.from_env({"POIESIS_KUBE_NAMESPACE": "x", "POIESIS_KUBE_TTL_SECONDS": "none",
                                 "POIESIS_KUBE_POD_SECURITY_CONTEXT": '{"fsGroup": 1}',
                                 "POIESIS_KUBE_PENDING_TIMEOUT": "3"})
    assert cfg.namespace == "x" and cfg.ttl_seconds_after_finished is None
    assert cfg.pod_security_context == {"fsGroup": 1} and cfg.pending_timeout_s == 3.0


def test_trec_gates_tif_with_a_tcp_startup_probe() -> None:
    """trec's startupProbe connects to the port TRec listens on once ready (the kubelet's own connect, no exec)."""
    pod = _pod()
    trec = pod["initContainers"][0]
    assert trec["startupProbe"]["tcpSocket"] == {"port": build.TREC_READY_PORT}
    assert trec["startupProbe"]["periodSeconds"] == 1
    assert {"name": "POIESIS_TREC_READY_PORT", "value": str(build.TREC_READY_PORT)} in trec["env"]
    assert all("startupProbe" not in c for c in pod["initContainers"][1:] + pod["containers"])


def test_pull_policies() -> None:
    """Executors take the executor pull policy (IfNotPresent by default); trec, tif, tof the Poiesis image's."""
    pod = _pod()
    assert [c["imagePullPolicy"] for c in pod["initContainers"][2:]] == ["IfNotPresent"] * 3
    cfg = KubeSettings.from_env({"POIESIS_KUBE_IMAGE_PULL_POLICY": "Always",
                                 "POIESIS_KUBE_EXECUTOR_IMAGE_PULL_POLICY": "Never"})
    pod = _pod(cfg=cfg)
    poiesis = [pod["initContainers"][0], pod["initContainers"][1], pod["containers"][0]]
    assert [c["imagePullPolicy"] for c in poiesis] == ["Always"] * 3
    assert [c["imagePullPolicy"] for c in pod["initContainers"][2:]] == ["Never"] * 3
    with pytest.raises(ValueError, match="IfNotPresent"):
        KubeSettings.from_env({"POIESIS_KUBE_EXECUTOR_IMAGE_PULL_POLICY": "sometimes"})


def test_no_shared_volume_means_no_file_roots() -> None:
    """Without a shared volume the filers get no file root and no extra mount."""
    pod = _pod()
    assert CFG.file_roots == ()
    assert all(v["name"] != "shared" for v in pod["volumes"])
    for filer in (pod["initContainers"][1], pod["containers"][0]):
        assert "env" not in filer and all(m["name"] != "shared" for m in filer["volumeMounts"])


@pytest.mark.parametrize(
    ("env", "volume", "mount"),
    [
        ({"POIESIS_KUBE_SHARED_HOST_PATH": "/mnt/shared"}, {"hostPath": {"path": "/mnt/shared", "type": "Directory"}}, "/mnt/shared"),
        ({"POIESIS_KUBE_SHARED_HOST_PATH": "/srv/nfs", "POIESIS_KUBE_SHARED_MOUNT_PATH": "/data"},
         {"hostPath": {"path": "/srv/nfs", "type": "Directory"}}, "/data"),
        ({"POIESIS_KUBE_SHARED_CLAIM": "shared-rwx", "POIESIS_KUBE_SHARED_MOUNT_PATH": "/data"},
         {"persistentVolumeClaim": {"claimName": "shared-rwx"}}, "/data"),
    ],
)
def test_shared_volume_reaches_both_filers_at_the_same_path(env, volume, mount) -> None:
    """A shared volume is mounted into tif and tof at one path, which is their only file root; executors do not see it."""
    cfg = KubeSettings.from_env(env)
    pod = _pod(cfg=cfg)
    assert {"name": "shared", **volume} in pod["volumes"]
    assert cfg.file_roots == (mount,)
    for filer in (pod["initContainers"][1], pod["containers"][0]):
        assert {"name": "shared", "mountPath": mount} in filer["volumeMounts"]
        assert {"name": "POIESIS_FILER_FILE_ROOTS", "value": mount} in filer["env"]
    for c in [pod["initContainers"][0], *pod["initContainers"][2:]]:
        assert all(m["name"] != "shared" for m in c["volumeMounts"])


def test_shared_volume_settings_that_cannot_work_are_refused() -> None:
    """Both kinds at once, a claim without a mount path, a relative mount path: refused at startup."""
    for env in ({"POIESIS_KUBE_SHARED_HOST_PATH": "/a", "POIESIS_KUBE_SHARED_CLAIM": "c"},
                {"POIESIS_KUBE_SHARED_CLAIM": "c"},
                {"POIESIS_KUBE_SHARED_HOST_PATH": "/a", "POIESIS_KUBE_SHARED_MOUNT_PATH": "data"}):
        with pytest.raises(ValueError):
            KubeSettings.from_env(env)


GPU_CFG = dataclasses.replace(
    CFG, max_gpus=4, gpu_types={"a100": {"gpu.example/model": "A100"}},
    gpu_tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
)


def test_gpus_are_each_executors_extended_resource_with_type_labels_and_tolerations() -> None:
    """gpu -> every executor's limit on the configured resource; gpu_type -> its node labels; the GPU tolerations."""
    task = {"executors": TASK["executors"], "resources": {"ram_gb": 1, "backend_parameters": {
        "GPU": "2", "gpu_type": "a100", "node_selector": "disk=ssd"}}}
    pod = build.build_pod_spec("t1", tes_task(task), dataclasses.replace(GPU_CFG, gpu_resource="amd.com/gpu"))
    executors = [c for c in pod["initContainers"] if c["name"].startswith("executor-")]
    assert [c["resources"]["limits"] for c in executors] == [{"memory": str(2**30), "amd.com/gpu": "2"}] * 3
    assert all("amd.com/gpu" not in c.get("resources", {}).get("limits", {})
               for c in pod["initContainers"][:2] + pod["containers"])
    assert pod["nodeSelector"] == {"disk": "ssd", "gpu.example/model": "A100"}
    assert pod["tolerations"] == GPU_CFG.gpu_tolerations


def test_no_gpu_no_gpu_resource_nor_tolerations() -> None:
    """A task without gpu gets neither the resource nor the GPU tolerations, whatever the settings."""
    pod = build.build_pod_spec("t1", tes_task({"executors": TASK["executors"]}), GPU_CFG)
    assert "tolerations" not in pod
    assert not any("nvidia.com/gpu" in json.dumps(c.get("resources", {})) for c in pod["initContainers"])


@pytest.mark.parametrize(
    ("params", "refused"),
    [({"gpu": "1"}, "not allowed on this server (enabled by POIESIS_KUBE_MAX_GPUS)"),
     ({"gpu": "1", "gpu_type": "a100"}, "enabled by POIESIS_KUBE_GPU_TYPES")],
)
def test_gpus_are_refused_by_default(params, refused) -> None:
    with pytest.raises(parameters.Refused, match=re.escape(refused)):
        build.build_pod_spec("t1", tes_task(_with(params)), CFG)


@pytest.mark.parametrize(
    ("params", "refused"),
    [({"gpu": "5"}, "'5' is not a whole number from 1 to 4 (the maximum is POIESIS_KUBE_MAX_GPUS)"),
     ({"gpu": "1", "gpu_type": "h100"}, "'h100' is not allowed (POIESIS_KUBE_GPU_TYPES allows a100)"),
     ({"gpu_type": "a100"}, "gpu_type: needs resources.backend_parameters.gpu too")],
)
def test_gpu_values_outside_the_settings_are_refused(params, refused) -> None:
    with pytest.raises(parameters.Refused, match=re.escape(refused)):
        build.build_pod_spec("t1", tes_task(_with(params)), GPU_CFG)


@pytest.mark.parametrize(("asked", "maximum", "expected"), [
    (None, 0, None), ("60", 0, 60), (None, 30, 30), ("10", 30, 10),
])
def test_the_time_limit_is_the_pods_active_deadline_not_the_jobs(asked, maximum, expected) -> None:
    """active_deadline_seconds (at most POIESIS_MAX_TASK_SECONDS, that when unset) is the Pod's activeDeadlineSeconds;
    the Job has none (its deadline deletes the Pod without saying why)."""
    resources = {"backend_parameters": {"active_deadline_seconds": asked}} if asked else {}
    job = build.build_job("t1", tes_task({**TASK, "resources": resources}), KubeSettings(max_task_seconds=maximum))
    assert "activeDeadlineSeconds" not in job["spec"]
    assert job["spec"]["template"]["spec"].get("activeDeadlineSeconds") == expected



def test_a_time_limit_above_the_maximum_is_refused_by_the_builder_too() -> None:
    """A stored limit above a maximum lowered since (or written past the API) never reaches the Pod."""
    with pytest.raises(parameters.Refused, match="POIESIS_MAX_TASK_SECONDS"):
        build.build_job("t1", tes_task(_with({"active_deadline_seconds": "60"})), KubeSettings(max_task_seconds=30))
