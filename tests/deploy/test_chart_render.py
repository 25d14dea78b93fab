"""The Helm chart without a cluster: helm lint, and what helm template makes of the values."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from poiesis.config.kube import KubeSettings
from tests.plugins.helm import CHART, RenderError

REPO = Path(__file__).resolve().parents[2]
BASE = ("database.url=postgresql://poiesis:pw@db.example:5432/poiesis", "auth.basic.passwords=alice:$2b$04$x",
        "database.taskUrl=postgresql://poiesis_task:tpw@db.example:5432/poiesis")
COMPONENTS = {"api", "tctl", "trec"}


def by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def pod_specs(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o["spec"]["template"]["spec"] for o in objects if o["kind"] in ("Deployment", "Job")}


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def docs_rbac() -> dict[str, set[tuple[str, str]]]:
    """docs/kubernetes.md's RBAC table as component -> {(resource, verb)}."""
    text = (REPO / "docs" / "kubernetes.md").read_text()
    section = text.split("## RBAC", 1)[1].split("\n## ", 1)[0]
    names = {"API": "api", "TCtl": "tctl", "TRec": "trec"}
    table: dict[str, set[tuple[str, str]]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        who = next((v for k, v in names.items() if cells[0].startswith(k)), None) if len(cells) == 2 else None
        if who is None:
            continue
        grants = set()
        for part in cells[1].split(";"):
            resources, verbs = part.split(":")
            for resource in resources.split(","):
                for verb in re.sub(r"\(.*?\)", "", verbs).split(","):
                    grants.add((resource.strip(), verb.strip()))
        table[who] = grants
    return table


def test_lint_passes_strict(helm) -> None:
    """helm lint --strict with the values a deployment must give, and with the optional parts on."""
    helm.run("lint", str(CHART), "--strict", *[a for s in BASE for a in ("--set", s)])
    helm.run("lint", str(CHART), "--strict", *[a for s in BASE for a in ("--set", s)],
             "--set", "networkPolicy.enabled=true", "--set", "api.workers=2", "--set", "storage.env.AWS_ACCESS_KEY_ID=k")


def test_required_values_are_asked_for(helm) -> None:
    """Without a database (or a basic-auth password file) the chart refuses to render, saying what to set."""
    with pytest.raises(RenderError, match=r"database\.url"):
        helm.render(BASE[1], BASE[2])
    with pytest.raises(RenderError, match=r"auth\.basic\.passwords"):
        helm.render(BASE[0], BASE[2])
    with pytest.raises(RenderError, match=r"database\.taskUrl"):
        helm.render(BASE[0], BASE[1])


def test_roles_grant_exactly_the_documented_verbs(helm) -> None:
    """One ServiceAccount, Role and RoleBinding per component; each Role is the docs' RBAC row, no more."""
    objects = helm.render(*BASE)
    documented = docs_rbac()
    assert set(documented) == COMPONENTS
    roles = by_kind(objects, "Role")
    assert set(by_kind(objects, "ServiceAccount")) == set(roles) == set(by_kind(objects, "RoleBinding")) == {
        f"t-poiesis-{c}" for c in COMPONENTS}
    for component in COMPONENTS:
        granted = {(r, v) for rule in roles[f"t-poiesis-{component}"]["rules"] for r in rule["resources"]
                   for v in rule["verbs"]}
        assert granted == documented[component], component
        assert not any("*" in rule["verbs"] or "*" in rule["resources"] for rule in roles[f"t-poiesis-{component}"]["rules"])
    binding = by_kind(objects, "RoleBinding")["t-poiesis-api"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "t-poiesis-api", "namespace": "ns"}]


def test_every_pod_meets_pod_security_restricted(helm) -> None:
    """API, TCtl and the migration Job: non-root, no escalation, no capabilities, RuntimeDefault, read-only root."""
    specs = pod_specs(helm.render(*BASE))
    assert set(specs) == {"t-poiesis-api", "t-poiesis-tctl", "t-poiesis-migrate"}
    for name, spec in specs.items():
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["enableServiceLinks"] is False, name
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                               "readOnlyRootFilesystem": True}, name
            assert "limits" in container["resources"] and "requests" in container["resources"], name
    # the task Pods the API and TCtl will make get the same defaults (tests/kube/test_build.py)
    assert KubeSettings().pod_security_context["runAsNonRoot"] is True


def test_recommended_labels_on_everything(helm) -> None:
    """Every object carries name, instance, component, version, managed-by and part-of labels."""
    for obj in helm.render(*BASE, "networkPolicy.enabled=true", "storage.env.AWS_ACCESS_KEY_ID=k"):
        labels = obj["metadata"]["labels"]
        for key in ("name", "instance", "component", "version", "managed-by", "part-of"):
            assert f"app.kubernetes.io/{key}" in labels, (obj["kind"], obj["metadata"]["name"], key)


def test_api_and_tctl_settings(helm) -> None:
    """Image, database Secret, task Pod settings, env passthrough and probes reach both Deployments."""
    objects = helm.render(*BASE, "image.repository=reg.example/poiesis", "image.tag=1.2.3", "image.pullPolicy=Always",
                          "env.POIESIS_KUBE_PENDING_TIMEOUT=60", "tctl.env.POIESIS_KUBE_RESYNC=3",
                          "storage.env.AWS_ACCESS_KEY_ID=k")
    specs = pod_specs(objects)
    api, tctl = specs["t-poiesis-api"]["containers"][0], specs["t-poiesis-tctl"]["containers"][0]
    for container in (api, tctl):
        env = env_of(container)
        assert container["image"] == "reg.example/poiesis:1.2.3" and container["imagePullPolicy"] == "Always"
        assert env["POIESIS_DATABASE_URL"] == {"secretKeyRef": {"name": "t-poiesis-db", "key": "url"}}
        assert (env["POIESIS_KUBE_DATABASE_SECRET"], env["POIESIS_KUBE_DATABASE_SECRET_KEY"]) == ("t-poiesis-task-db", "url")
        assert env["POIESIS_KUBE_IMAGE"] == "reg.example/poiesis:1.2.3"
        assert env["POIESIS_KUBE_SERVICE_ACCOUNT"] == "t-poiesis-trec"
        assert env["POIESIS_KUBE_TRANSFER_VOLUME"] == "emptyDir"
        assert env["POIESIS_KUBE_FILER_ENV_SECRET"] == "t-poiesis-storage"
        assert env["POIESIS_KUBE_PENDING_TIMEOUT"] == "60"
        assert env["POIESIS_LOG_FORMAT"] == "json"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert env_of(tctl)["POIESIS_KUBE_RESYNC"] == "3" and "POIESIS_KUBE_RESYNC" not in env_of(api)
    assert env_of(tctl)["POIESIS_TCTL_HTTP_PORT"] == "9090"
    assert env_of(api)["POIESIS_AUTH"] == "basic"
    assert "t-poiesis-api.ns.svc" in env_of(api)["POIESIS_ALLOWED_HOSTS"].split(",")
    deployments = by_kind(objects, "Deployment")
    assert deployments["t-poiesis-tctl"]["spec"]["replicas"] == 3
    pdb = by_kind(objects, "PodDisruptionBudget")["t-poiesis-tctl"]
    assert pdb["spec"]["selector"]["matchLabels"] == deployments["t-poiesis-tctl"]["spec"]["selector"]["matchLabels"]
    storage = by_kind(objects, "Secret")["t-poiesis-storage"]
    assert storage["stringData"] == {"AWS_ACCESS_KEY_ID": "k"}


def test_backend_parameter_allowlists_are_values(helm) -> None:
    """tasks.allowed*, tasks.maxSeconds and tasks.gpu become the settings; unset, none is given (all refused)."""
    gpu = {"max": 2, "resource": "amd.com/gpu", "types": {"mi300": {"amd.com/gpu.product": "MI300X"}},
           "tolerations": [{"key": "amd.com/gpu", "operator": "Exists"}]}
    values = {"tasks": {"allowedPriorityClasses": ["batch-low", "batch-high"], "allowedRuntimeClasses": ["gvisor"],
                        "allowedNodeSelectors": ["pool=batch", "disk"], "maxSeconds": 86400, "gpu": gpu}}
    env = env_of(pod_specs(helm.render(*BASE, values=values))["t-poiesis-api"]["containers"][0])
    assert (env["POIESIS_KUBE_ALLOWED_PRIORITY_CLASSES"], env["POIESIS_KUBE_ALLOWED_RUNTIME_CLASSES"],
            env["POIESIS_KUBE_ALLOWED_NODE_SELECTORS"], env["POIESIS_MAX_TASK_SECONDS"]) == (
        "batch-low,batch-high", "gvisor", "pool=batch,disk", "86400")
    assert (env["POIESIS_KUBE_MAX_GPUS"], env["POIESIS_KUBE_GPU_RESOURCE"]) == ("2", "amd.com/gpu")
    assert (json.loads(env["POIESIS_KUBE_GPU_TYPES"]), json.loads(env["POIESIS_KUBE_GPU_TOLERATIONS"])) == (
        gpu["types"], gpu["tolerations"])
    bare = env_of(pod_specs(helm.render(*BASE))["t-poiesis-api"]["containers"][0])
    assert not [name for name in bare
                if name.startswith(("POIESIS_KUBE_ALLOWED_", "POIESIS_KUBE_MAX_", "POIESIS_KUBE_GPU_", "POIESIS_MAX_TASK"))]


def test_every_documented_setting_can_be_set(helm) -> None:
    """Each POIESIS_* variable of the docs' settings tables reaches the API and TCtl through `env`."""
    names = set()
    for doc in ("configuration.md", "kubernetes.md"):
        names |= set(re.findall(r"^\| `?(POIESIS_[A-Z_]+)`?", (REPO / "docs" / doc).read_text(), re.MULTILINE))
    assert len(names) > 40
    objects = helm.render(*BASE, values={"env": dict.fromkeys(names, "x")})
    for name in ("t-poiesis-api", "t-poiesis-tctl"):
        env = [e["name"] for e in pod_specs(objects)[name]["containers"][0]["env"]]
        assert names <= set(env), names - set(env)


def test_migrations_run_as_a_hook_before_install_and_upgrade(helm) -> None:
    """`poiesis migrate` in a pre-install/pre-upgrade Job, after the database Secret (also a hook) exists."""
    objects = helm.render(*BASE)
    job = by_kind(objects, "Job")["t-poiesis-migrate"]
    secret = by_kind(objects, "Secret")["t-poiesis-db"]
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["poiesis", "migrate"]
    for obj in (job, secret):
        assert obj["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert int(secret["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(job["metadata"]["annotations"]["helm.sh/hook-weight"])
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert "t-poiesis-migrate" not in pod_specs(helm.render(*BASE, "migrations.enabled=false"))


def test_existing_secrets_are_used_not_made(helm) -> None:
    """database.existingSecret and auth.basic.existingSecret: no Secrets from the chart, the given names used."""
    objects = helm.render("database.existingSecret=pg", "database.existingSecretKey=dsn", "auth.basic.existingSecret=pw",
                          "database.taskExistingSecret=pg-task", "database.taskExistingSecretKey=tdsn")
    assert by_kind(objects, "Secret") == {}
    api = pod_specs(objects)["t-poiesis-api"]
    assert env_of(api["containers"][0])["POIESIS_DATABASE_URL"] == {"secretKeyRef": {"name": "pg", "key": "dsn"}}
    assert env_of(api["containers"][0])["POIESIS_KUBE_DATABASE_SECRET"] == "pg-task"
    assert env_of(api["containers"][0])["POIESIS_KUBE_DATABASE_SECRET_KEY"] == "tdsn"
    assert {"name": "auth", "secret": {"secretName": "pw"}} in api["volumes"]


def test_the_task_pods_get_their_own_credential(helm) -> None:
    """TRec's database URL (POIESIS_KUBE_DATABASE_SECRET) is the task credential's Secret, never the API's;
    the migration Job makes its role (POIESIS_TASK_DATABASE_URL); both Secrets exist before it runs."""
    objects = helm.render(*BASE)
    secrets = by_kind(objects, "Secret")
    assert secrets["t-poiesis-task-db"]["stringData"] == {"url": "postgresql://poiesis_task:tpw@db.example:5432/poiesis"}
    assert secrets["t-poiesis-db"]["stringData"]["url"] != secrets["t-poiesis-task-db"]["stringData"]["url"]
    job = by_kind(objects, "Job")["t-poiesis-migrate"]
    migrate = env_of(job["spec"]["template"]["spec"]["containers"][0])
    assert migrate["POIESIS_TASK_DATABASE_URL"] == {"secretKeyRef": {"name": "t-poiesis-task-db", "key": "url"}}
    assert int(secrets["t-poiesis-task-db"]["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(
        job["metadata"]["annotations"]["helm.sh/hook-weight"])
    for name in ("t-poiesis-api", "t-poiesis-tctl"):
        env = env_of(pod_specs(objects)[name]["containers"][0])
        assert env["POIESIS_KUBE_DATABASE_SECRET"] == "t-poiesis-task-db"


def test_network_policies_are_on_by_default(helm) -> None:
    """Without any networkPolicy value the three policies are made: task Pods accept no connections."""
    policies = by_kind(helm.render(*BASE), "NetworkPolicy")
    assert set(policies) == {"t-poiesis-tasks", "t-poiesis-api", "t-poiesis-tctl"}
    assert policies["t-poiesis-tasks"]["spec"]["ingress"] == []
    assert by_kind(helm.render(*BASE, "networkPolicy.enabled=false"), "NetworkPolicy") == {}


def test_workers_share_metrics_and_network_policies(helm) -> None:
    """api.workers > 1 sets PROMETHEUS_MULTIPROC_DIR on an emptyDir; networkPolicy makes three policies."""
    objects = helm.render(*BASE, "api.workers=3", "networkPolicy.enabled=true")
    api = pod_specs(objects)["t-poiesis-api"]["containers"][0]
    assert api["command"] == ["poiesis", "api", "--workers", "3"]
    assert env_of(api)["PROMETHEUS_MULTIPROC_DIR"] == "/run/poiesis"
    policies = by_kind(objects, "NetworkPolicy")
    assert set(policies) == {"t-poiesis-tasks", "t-poiesis-api", "t-poiesis-tctl"}
    assert policies["t-poiesis-tasks"]["spec"]["ingress"] == []
    assert policies["t-poiesis-tasks"]["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "task"
