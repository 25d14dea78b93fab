"""The settings tree (poiesis/config): defaults, every variable, bad values, flags over it, one reader of os.environ."""

from __future__ import annotations

import argparse
import ast
import re
from collections.abc import Iterator, Mapping
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import pytest

from poiesis import cli, config
from poiesis.config import Settings, SettingsError
from poiesis.config.kube import RESTRICTED_EXECUTOR, ROOT_EXECUTOR

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "poiesis"
#: modules that may read the process environment, and why
ENVIRON_READERS = {
    "poiesis/config/__init__.py": "load(): the one read, handing the mapping to Settings.from_env",
}


class Recording(Mapping[str, str]):
    """An environment that notes every variable asked for."""

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self.values = dict(values or {})
        self.asked: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return self.values[key]

    def __contains__(self, key: object) -> bool:
        self.asked.add(str(key))
        return key in self.values

    def get(self, key: str, default: Any = None) -> Any:
        self.asked.add(key)
        return self.values.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)


def variables_read() -> set[str]:
    env = Recording()
    Settings.from_env(env)
    return env.asked


def _environ_uses(tree: ast.AST) -> list[int]:
    """Lines that read the process environment through ``os`` (os.environ, os.getenv, from os import environ...)."""
    names = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}
    aliases = {"os"}
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            aliases |= {a.asname or a.name for a in node.names if a.name == "os"}
        if isinstance(node, ast.ImportFrom) and node.module == "os" and {a.name for a in node.names} & names:
            lines.append(node.lineno)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in names and isinstance(node.value, ast.Name) \
                and node.value.id in aliases:
            lines.append(node.lineno)
    return lines


def test_only_the_settings_module_reads_the_environment() -> None:
    """No module of poiesis/ but the settings' load() uses os.environ or os.getenv: the rest is handed settings."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        lines = _environ_uses(ast.parse(path.read_text(), rel))
        if lines and rel not in ENVIRON_READERS:
            found[rel] = lines
    assert not found, f"read the environment outside poiesis/config (pass settings down instead): {found}"
    assert _environ_uses(ast.parse("import os as o\nfrom os import getenv\no.environ.get('X')\n")) == [2, 3]


def test_defaults_run_on_one_machine_with_nothing_configured() -> None:
    """An empty environment gives the dataclasses' defaults: every section, nothing required."""
    settings = Settings.from_env({})
    assert settings == Settings()
    assert (settings.api.host, settings.api.port, settings.backend) == ("127.0.0.1", 8000, "none")
    assert settings.database.url is None and settings.database.data_dir.parts[-2:] == ("poiesis", "postgres")
    assert (settings.database.pool_size, settings.database.timeout) == (10, 5.0)
    assert settings.security.auth.mode == "none" and settings.security.limits.body_bytes == 4 * 1024 * 1024
    assert settings.local.work_dir.parts[-2:] == ("poiesis", "tasks") and settings.local.engine == "auto"
    assert settings.kube.namespace == "poiesis" and settings.kube.kubeconfig is None
    assert settings.filer.file_roots == () and not settings.filer.file_roots_set and settings.filer.secrets == ()
    assert settings.pod.transfer_dir == "/transfer" and settings.trec.ready_port is None
    assert (settings.tctl.http_port, settings.tctl.http_host) == (0, "127.0.0.1")
    assert settings.client.server == "http://127.0.0.1:8000" and settings.client.token is None
    assert settings.logging.format == "text" and settings.metrics.multiproc_dir is None


#: (variable, value, where it lands, what it becomes)
EACH = [
    ("POIESIS_HOST", "0.0.0.0", lambda s: s.api.host, "0.0.0.0"),
    ("POIESIS_PORT", "9000", lambda s: s.api.port, 9000),
    ("POIESIS_ACCESS_LOG", "false", lambda s: s.api.access_log, False),
    ("POIESIS_TES_VERSION", "1.2", lambda s: s.api.tes_version, "1.2"),
    ("POIESIS_DATABASE_URL", "postgresql://db/x", lambda s: s.database.url, "postgresql://db/x"),
    ("POIESIS_TASK_DATABASE_URL", "postgresql://t:p@db/x", lambda s: s.database.task_url, "postgresql://t:p@db/x"),
    ("POIESIS_DATA_DIR", "/srv/pg", lambda s: s.database.data_dir, Path("/srv/pg")),
    ("XDG_DATA_HOME", "/xdg", lambda s: (s.database.data_dir, s.local.work_dir),
     (Path("/xdg/poiesis/postgres"), Path("/xdg/poiesis/tasks"))),
    ("POIESIS_DB_POOL_SIZE", "3", lambda s: s.database.pool_size, 3),
    ("POIESIS_DB_TIMEOUT", "1.5", lambda s: s.database.timeout, 1.5),
    ("POIESIS_BACKEND", "kubernetes", lambda s: s.backend, "kubernetes"),
    ("POIESIS_SERVICE_ID", "org.x", lambda s: s.service.id, "org.x"),
    ("POIESIS_SERVICE_NAME", "X", lambda s: s.service.name, "X"),
    ("POIESIS_ORGANIZATION_NAME", "Lab", lambda s: s.service.organization_name, "Lab"),
    ("POIESIS_ORGANIZATION_URL", "https://lab", lambda s: s.service.organization_url, "https://lab"),
    ("POIESIS_CONTACT_URL", "mailto:a@b", lambda s: s.service.contact_url, "mailto:a@b"),
    ("POIESIS_DOCUMENTATION_URL", "https://doc", lambda s: s.service.documentation_url, "https://doc"),
    ("POIESIS_ENVIRONMENT", "test", lambda s: s.service.environment, "test"),
    ("POIESIS_AUTH", "none", lambda s: s.security.auth.mode, "none"),
    ("POIESIS_AUTH_ADMIN_USERS", "a, b", lambda s: s.security.auth.admin_users, ("a", "b")),
    ("POIESIS_AUTH_SUBJECT_CLAIM", "email", lambda s: s.security.auth.subject_claim, "email"),
    ("POIESIS_AUTH_ROLES_CLAIM", "groups", lambda s: s.security.auth.roles_claim, "groups"),
    ("POIESIS_AUTH_ADMIN_ROLE", "boss", lambda s: s.security.auth.admin_role, "boss"),
    ("POIESIS_AUTH_LEEWAY", "2", lambda s: s.security.auth.leeway, 2.0),
    ("POIESIS_AUTH_ISSUER", "https://iss", lambda s: s.security.auth.issuer, "https://iss"),
    ("POIESIS_AUTH_AUDIENCE", "tes", lambda s: s.security.auth.audience, "tes"),
    ("POIESIS_AUTH_JWKS_FILE", "/k.json", lambda s: s.security.auth.jwks_file, Path("/k.json")),
    ("POIESIS_AUTH_BASIC_FILE", "/users", lambda s: s.security.auth.basic_file, Path("/users")),
    ("POIESIS_ALLOWED_HOSTS", "tes.example.org,*", lambda s: s.security.allowed_hosts, ("tes.example.org", "*")),
    ("POIESIS_ALLOWED_ORIGINS", "https://p", lambda s: s.security.allowed_origins, ("https://p",)),
    ("POIESIS_LIMIT_BODY_BYTES", "10", lambda s: s.security.limits.body_bytes, 10),
    ("POIESIS_LIMIT_EXECUTORS", "2", lambda s: s.security.limits.executors, 2),
    ("POIESIS_LIMIT_INPUTS", "3", lambda s: s.security.limits.inputs, 3),
    ("POIESIS_LIMIT_OUTPUTS", "4", lambda s: s.security.limits.outputs, 4),
    ("POIESIS_LIMIT_VOLUMES", "5", lambda s: s.security.limits.volumes, 5),
    ("POIESIS_LIMIT_TAGS", "6", lambda s: s.security.limits.tags, 6),
    ("POIESIS_LIMIT_CONTENT_BYTES", "7", lambda s: s.security.limits.content_bytes, 7),
    ("POIESIS_LIMIT_LIST_BYTES", "8", lambda s: s.security.limits.list_bytes, 8),
    ("POIESIS_LIMIT_JSON_DEPTH", "9", lambda s: s.security.limits.json_depth, 9),
    ("POIESIS_LIMIT_HEADER_BYTES", "1000", lambda s: s.security.limits.header_bytes, 1000),
    ("POIESIS_LIMIT_HEADER_TIMEOUT", "0.5", lambda s: s.security.limits.header_timeout, 0.5),
    ("POIESIS_LIMIT_IDLE_TIMEOUT", "2", lambda s: s.security.limits.idle_timeout, 2.0),
    ("POIESIS_LIMIT_BODY_TIMEOUT", "3", lambda s: s.security.limits.body_timeout, 3.0),
    ("POIESIS_LIMIT_CONCURRENCY", "11", lambda s: s.security.limits.concurrency, 11),
    ("POIESIS_LOCAL_MAX_TASKS", "2", lambda s: s.local.max_tasks, 2),
    ("POIESIS_LOCAL_WORK_DIR", "/w", lambda s: s.local.work_dir, Path("/w")),
    ("POIESIS_LOCAL_ENGINE", "Process", lambda s: s.local.engine, "process"),
    ("POIESIS_LOCAL_PULL", "missing", lambda s: s.local.pull, "missing"),
    ("POIESIS_LOCAL_NETWORK", "bridge", lambda s: s.local.network, "bridge"),
    ("POIESIS_LOCAL_ALLOW_UNISOLATED", "yes", lambda s: s.local.allow_unisolated, True),
    ("POIESIS_LOCAL_ALLOW_REMOTE", "1", lambda s: s.local.allow_remote, True),
    ("POIESIS_LOCAL_TAIL_BYTES", "100", lambda s: s.local.tail_bytes, 100),
    ("POIESIS_LOCAL_KEEP_WORK_DIRS", "true", lambda s: s.local.keep_work_dirs, True),
    ("POIESIS_LOCAL_PATH", "/opt/bin", lambda s: s.local.process_path, "/opt/bin"),
    ("POIESIS_LOCAL_GPUS", "2", lambda s: s.local.gpus, 2),
    ("POIESIS_MAX_TASK_SECONDS", "3600", lambda s: (s.local.max_task_seconds, s.kube.max_task_seconds), (3600, 3600)),
    ("POIESIS_KUBE_NAMESPACE", "tes", lambda s: s.kube.namespace, "tes"),
    ("POIESIS_KUBE_IMAGE", "reg/poiesis:1", lambda s: s.kube.image, "reg/poiesis:1"),
    ("POIESIS_KUBE_IMAGE_PULL_POLICY", "Always", lambda s: s.kube.image_pull_policy, "Always"),
    ("POIESIS_KUBE_EXECUTOR_IMAGE_PULL_POLICY", "Never", lambda s: s.kube.executor_image_pull_policy, "Never"),
    ("POIESIS_KUBE_SERVICE_ACCOUNT", "sa", lambda s: s.kube.service_account, "sa"),
    ("POIESIS_KUBE_STORAGE_CLASS", "fast", lambda s: s.kube.storage_class, "fast"),
    ("POIESIS_KUBE_DEFAULT_DISK_GB", "2.5", lambda s: s.kube.default_disk_gb, 2.5),
    ("POIESIS_KUBE_TTL_SECONDS", "none", lambda s: s.kube.ttl_seconds_after_finished, None),
    ("POIESIS_KUBE_DATABASE_SECRET", "db", lambda s: s.kube.database_secret, "db"),
    ("POIESIS_KUBE_DATABASE_SECRET_KEY", "dsn", lambda s: s.kube.database_secret_key, "dsn"),
    ("POIESIS_KUBE_FILER_ENV_SECRET", "s3", lambda s: s.kube.filer_env_secret, "s3"),
    ("POIESIS_KUBE_POD_SECURITY_CONTEXT", "{}", lambda s: s.kube.pod_security_context, {}),
    ("POIESIS_KUBE_CONTAINER_SECURITY_CONTEXT", '{"a": 1}', lambda s: s.kube.container_security_context, {"a": 1}),
    ("POIESIS_KUBE_EXECUTOR_SECURITY_CONTEXT", '{"b": 2}', lambda s: s.kube.executor_security_context, {"b": 2}),
    ("POIESIS_KUBE_EXECUTOR_AS_ROOT", "true", lambda s: s.kube.executor_security_context, ROOT_EXECUTOR),
    ("POIESIS_KUBE_TRANSFER_VOLUME", "emptyDir", lambda s: s.kube.transfer_volume, "emptyDir"),
    ("POIESIS_KUBE_LOG_TAIL_BYTES", "2000", lambda s: s.kube.trec_log_tail_bytes, 2000),
    ("POIESIS_KUBE_PENDING_TIMEOUT", "60", lambda s: s.kube.pending_timeout_s, 60.0),
    ("POIESIS_KUBE_CANCEL_GRACE", "5", lambda s: s.kube.cancel_grace_s, 5),
    ("POIESIS_KUBE_QUEUED_GRACE", "30", lambda s: s.kube.queued_grace_s, 30.0),
    ("POIESIS_KUBE_LEASE_NAME", "l", lambda s: s.kube.lease_name, "l"),
    ("POIESIS_KUBE_LEASE_DURATION", "20", lambda s: s.kube.lease_duration_s, 20.0),
    ("POIESIS_KUBE_LEASE_RENEW", "4", lambda s: s.kube.lease_renew_s, 4.0),
    ("POIESIS_KUBE_RESYNC", "3", lambda s: s.kube.resync_s, 3.0),
    ("POIESIS_KUBE_LIST_PAGE", "0", lambda s: s.kube.list_page, 0),
    ("POIESIS_KUBE_SUBMIT_WORKERS", "0", lambda s: s.kube.submit_workers, 0),
    ("POIESIS_KUBE_SUBMIT_QUEUE", "10", lambda s: s.kube.submit_queue, 10),
    ("POIESIS_KUBE_KUBECONFIG", "/kc", lambda s: s.kube.kubeconfig, "/kc"),
    ("KUBECONFIG", "/kc2", lambda s: s.kube.kubeconfig, "/kc2"),
    ("POIESIS_KUBE_LABELS", '{"team": "x"}', lambda s: s.kube.extra_labels, {"team": "x"}),
    ("POIESIS_KUBE_NODE_SELECTOR", '{"gpu": "yes"}', lambda s: s.kube.node_selector, {"gpu": "yes"}),
    ("POIESIS_KUBE_TOLERATIONS", '[{"key": "k"}]', lambda s: s.kube.tolerations, [{"key": "k"}]),
    ("POIESIS_KUBE_ALLOWED_PRIORITY_CLASSES", "low, high", lambda s: s.kube.allowed_priority_classes, ("low", "high")),
    ("POIESIS_KUBE_ALLOWED_RUNTIME_CLASSES", "gvisor", lambda s: s.kube.allowed_runtime_classes, ("gvisor",)),
    ("POIESIS_KUBE_ALLOWED_NODE_SELECTORS", "pool=batch,disk", lambda s: s.kube.allowed_node_selectors,
     ("pool=batch", "disk")),
    ("POIESIS_KUBE_MAX_GPUS", "2", lambda s: s.kube.max_gpus, 2),
    ("POIESIS_KUBE_GPU_RESOURCE", "amd.com/gpu", lambda s: s.kube.gpu_resource, "amd.com/gpu"),
    ("POIESIS_KUBE_GPU_TYPES", '{"a100": {"gpu": "A100"}}', lambda s: s.kube.gpu_types, {"a100": {"gpu": "A100"}}),
    ("POIESIS_KUBE_GPU_TOLERATIONS", '[{"key": "g"}]', lambda s: s.kube.gpu_tolerations, [{"key": "g"}]),
    ("POIESIS_KUBE_SHARED_HOST_PATH", "/mnt/s", lambda s: s.kube.file_roots, ("/mnt/s",)),
    ("POIESIS_KUBE_SHARED_MOUNT_PATH", "/data", lambda s: s.kube.shared_mount_path, "/data"),
    ("POIESIS_KUBE_SHARED_CLAIM", "rwx", lambda s: (s.kube.shared_claim, s.kube.file_roots), ("rwx", ("/data",))),
    ("POIESIS_FILER_FILE_ROOTS", "/a:/b", lambda s: s.filer.file_roots, (Path("/a"), Path("/b"))),
    ("POIESIS_FILER_RETRIES", "2", lambda s: s.filer.retry.attempts, 2),
    ("POIESIS_FILER_ALLOW_NETWORKS", "10.1.0.0/16, ftp=192.168.5.7 HTTPS=fd00::/8",
     lambda s: (s.filer.allow_networks, s.filer.allowed_networks("https"), s.filer.allowed_networks("http")),
     ((("*", ip_network("10.1.0.0/16")), ("ftp", ip_network("192.168.5.7/32")), ("https", ip_network("fd00::/8"))),
      (ip_network("10.1.0.0/16"), ip_network("fd00::/8")), (ip_network("10.1.0.0/16"),))),
    ("POIESIS_FILER_RETRY_DELAY", "0.1", lambda s: s.filer.retry.base_delay, 0.1),
    ("POIESIS_S3_BUCKETS", "a, b c", lambda s: s.filer.s3_buckets, ("a", "b", "c")),
    ("POIESIS_S3_ENDPOINT_URL", "http://minio", lambda s: (s.filer.s3_endpoint_url, s.filer.s3_addressing_style),
     ("http://minio", "path")),
    ("AWS_ENDPOINT_URL", "http://aws", lambda s: s.filer.s3_endpoint_url, "http://aws"),
    ("AWS_REGION", "eu-west-1", lambda s: s.filer.s3_region, "eu-west-1"),
    ("AWS_DEFAULT_REGION", "eu-central-1", lambda s: s.filer.s3_region, "eu-central-1"),
    ("POIESIS_S3_ADDRESSING_STYLE", "virtual", lambda s: s.filer.s3_addressing_style, "virtual"),
    ("POIESIS_S3_PART_SIZE_MIB", "8", lambda s: s.filer.s3_part_size, 8 * 1024 * 1024),
    ("AWS_ACCESS_KEY_ID", "AKIA0000", lambda s: s.filer.secrets, ("AKIA0000",)),
    ("AWS_SECRET_ACCESS_KEY", "s3cr3t", lambda s: s.filer.secrets, ("s3cr3t",)),
    ("AWS_SESSION_TOKEN", "tok3n", lambda s: s.filer.secrets, ("tok3n",)),
    ("POIESIS_POD_NAME", "task-1-abc", lambda s: s.pod.name, "task-1-abc"),
    ("POIESIS_POD_NAMESPACE", "tes", lambda s: s.pod.namespace, "tes"),
    ("POIESIS_TASK_ID", "t1", lambda s: s.pod.task_id, "t1"),
    ("POIESIS_TRANSFER_DIR", "/x", lambda s: s.pod.transfer_dir, "/x"),
    ("POIESIS_TASK_SECRET", "abc123", lambda s: s.pod.task_secret, "abc123"),
    ("POIESIS_TREC_READY_FILE", "/r", lambda s: s.trec.ready_file, Path("/r")),
    ("POIESIS_TREC_READY_PORT", "9999", lambda s: s.trec.ready_port, 9999),
    ("POIESIS_TCTL_HTTP_PORT", "8080", lambda s: s.tctl.http_port, 8080),
    ("POIESIS_TCTL_HTTP_HOST", "0.0.0.0", lambda s: s.tctl.http_host, "0.0.0.0"),
    ("POIESIS_SERVER", "http://tes:8000", lambda s: s.client.server, "http://tes:8000"),
    ("POIESIS_TOKEN", "jwt", lambda s: s.client.token, "jwt"),
    ("POIESIS_FEED_SUBSCRIBERS", "20", lambda s: s.feed.subscribers, 20),
    ("POIESIS_FEED_QUEUE", "64", lambda s: s.feed.queue, 64),
    ("POIESIS_LOG_FORMAT", "JSON", lambda s: s.logging.format, "json"),
    ("PROMETHEUS_MULTIPROC_DIR", "/run/p", lambda s: s.metrics.multiproc_dir, "/run/p"),
]


#: variables that only work with another one
TOGETHER = {"POIESIS_KUBE_SHARED_CLAIM": {"POIESIS_KUBE_SHARED_MOUNT_PATH": "/data"}}


@pytest.mark.parametrize(("name", "value", "where", "expected"), EACH, ids=[row[0] for row in EACH])
def test_each_variable(name: str, value: str, where: Any, expected: Any) -> None:
    """Each variable lands in its place in the tree; set but empty, it means the default."""
    others = TOGETHER.get(name, {})
    assert where(Settings.from_env({name: value, **others})) == expected
    if name != "POIESIS_FILER_FILE_ROOTS":  # set but empty: no file:// roots at all (docs/filer.md)
        assert where(Settings.from_env({name: "", **others})) == where(Settings.from_env(others))


def test_every_variable_is_tested_and_documented() -> None:
    """The variables the tree reads are the ones above and the ones docs/configuration.md lists."""
    read = variables_read()
    assert read == {row[0] for row in EACH}
    doc = (ROOT / "docs/configuration.md").read_text()
    listed = set(re.findall(r"\b(?:POIESIS|AWS|PROMETHEUS|XDG)_[A-Z0-9_]*[A-Z0-9]\b|\bKUBECONFIG\b", doc))
    assert read - listed == set(), "variables the settings read but docs/configuration.md does not list"


def test_empty_file_roots_mean_none_and_unset_lets_the_backend_choose() -> None:
    assert Settings.from_env({"POIESIS_FILER_FILE_ROOTS": ""}).filer.with_default_roots((Path("/w"),)).file_roots == ()
    assert Settings.from_env({}).filer.with_default_roots((Path("/w"),)).file_roots == (Path("/w"),)
    assert Settings.from_env({"POIESIS_FILER_FILE_ROOTS": "/a"}).filer.with_default_roots((Path("/w"),)).file_roots \
        == (Path("/a"),)


def test_precedence_between_variables() -> None:
    """POIESIS_KUBE_KUBECONFIG over KUBECONFIG, POIESIS_S3_ENDPOINT_URL over AWS_ENDPOINT_URL, AWS_REGION first."""
    s = Settings.from_env({"POIESIS_KUBE_KUBECONFIG": "/a", "KUBECONFIG": "/b", "POIESIS_S3_ENDPOINT_URL": "http://p",
                           "AWS_ENDPOINT_URL": "http://q", "AWS_REGION": "r1", "AWS_DEFAULT_REGION": "r2",
                           "POIESIS_KUBE_EXECUTOR_AS_ROOT": "false"})
    assert (s.kube.kubeconfig, s.filer.s3_endpoint_url, s.filer.s3_region) == ("/a", "http://p", "r1")
    assert s.kube.executor_security_context == RESTRICTED_EXECUTOR


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"POIESIS_PORT": "eighty"}, "POIESIS_PORT must be a whole number, not 'eighty'"),
        ({"POIESIS_DB_TIMEOUT": "soon"}, "POIESIS_DB_TIMEOUT must be a number"),
        ({"POIESIS_BACKEND": "slurm"}, "POIESIS_BACKEND must be one of none, local, kubernetes, not 'slurm'"),
        ({"POIESIS_TES_VERSION": "1.0"}, "POIESIS_TES_VERSION must be one of 1.1, 1.2, not '1.0'"),
        ({"POIESIS_LOG_FORMAT": "xml"}, "POIESIS_LOG_FORMAT must be one of text, json"),
        ({"POIESIS_AUTH": "kerberos"}, "POIESIS_AUTH must be one of none, basic, jwt"),
        ({"POIESIS_AUTH": "basic"}, "POIESIS_AUTH=basic needs POIESIS_AUTH_BASIC_FILE"),
        ({"POIESIS_LIMIT_BODY_BYTES": "1MB"}, "POIESIS_LIMIT_BODY_BYTES must be a whole number"),
        ({"POIESIS_LOCAL_ENGINE": "lxc"}, "POIESIS_LOCAL_ENGINE must be one of"),
        ({"POIESIS_LOCAL_MAX_TASKS": "0"}, "POIESIS_LOCAL_MAX_TASKS must be at least 1"),
        ({"POIESIS_LOCAL_ALLOW_UNISOLATED": "maybe"}, "POIESIS_LOCAL_ALLOW_UNISOLATED must be true or false"),
        ({"POIESIS_LOCAL_GPUS": "many"}, "POIESIS_LOCAL_GPUS must be a whole number, not 'many'"),
        ({"POIESIS_LOCAL_GPUS": "-1"}, "POIESIS_LOCAL_GPUS must be auto, 0 (none) or more"),
        ({"POIESIS_KUBE_LABELS": "team=x"}, "POIESIS_KUBE_LABELS must be a JSON object"),
        ({"POIESIS_KUBE_TOLERATIONS": "{}"}, "POIESIS_KUBE_TOLERATIONS must be a JSON array"),
        ({"POIESIS_KUBE_TTL_SECONDS": "never"}, "POIESIS_KUBE_TTL_SECONDS must be a whole number"),
        ({"POIESIS_KUBE_SHARED_CLAIM": "c"}, "POIESIS_KUBE_SHARED_CLAIM needs POIESIS_KUBE_SHARED_MOUNT_PATH"),
        ({"POIESIS_KUBE_LIST_PAGE": "-1"}, "POIESIS_KUBE_LIST_PAGE must be 0 (no pages) or more"),
        ({"POIESIS_KUBE_ALLOWED_NODE_SELECTORS": "=ssd"}, "POIESIS_KUBE_ALLOWED_NODE_SELECTORS: '=ssd' is not key"),
        ({"POIESIS_KUBE_ALLOWED_NODE_SELECTORS": "pool", "POIESIS_KUBE_NODE_SELECTOR": '{"pool": "a"}'},
         "POIESIS_KUBE_ALLOWED_NODE_SELECTORS: 'pool' is fixed by POIESIS_KUBE_NODE_SELECTOR"),
        ({"POIESIS_KUBE_MAX_GPUS": "-1"}, "POIESIS_KUBE_MAX_GPUS must be 0 (refused) or more"),
        ({"POIESIS_KUBE_GPU_TYPES": '{"a100": "A100"}'}, "POIESIS_KUBE_GPU_TYPES: 'a100' must map to a JSON object"),
        ({"POIESIS_FILER_RETRIES": "many"}, "POIESIS_FILER_RETRIES must be a whole number"),
        ({"POIESIS_FILER_ALLOW_NETWORKS": "10.1.2.3/16"}, "POIESIS_FILER_ALLOW_NETWORKS: '10.1.2.3/16' is not a network"),
        ({"POIESIS_FILER_ALLOW_NETWORKS": "s3=10.0.0.0/8"}, "POIESIS_FILER_ALLOW_NETWORKS: 's3=10.0.0.0/8': the scheme"),
        ({"POIESIS_FILER_ALLOW_NETWORKS": "localhost"}, "POIESIS_FILER_ALLOW_NETWORKS: 'localhost' is not a network"),
        ({"POIESIS_TREC_READY_PORT": "x"}, "POIESIS_TREC_READY_PORT must be a whole number"),
        ({"POIESIS_TCTL_HTTP_PORT": "x"}, "POIESIS_TCTL_HTTP_PORT must be a whole number"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        Settings.from_env(env)


def test_a_bad_value_stops_the_command_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """``poiesis`` reads the environment once, first; a bad value is one line naming it, no traceback."""
    monkeypatch.setenv("POIESIS_PORT", "eighty")
    with pytest.raises(SystemExit, match=r"^poiesis: POIESIS_PORT must be a whole number, not 'eighty'$"):
        cli.main(["migrate"])


def test_flags_override_the_tree() -> None:
    """A flag given replaces the environment's value; a flag left out keeps it."""
    settings = Settings.from_env({"POIESIS_HOST": "0.0.0.0", "POIESIS_PORT": "9000", "POIESIS_DATABASE_URL": "pg://a"})
    args = cli.build_parser().parse_args(["api", "--port", "9001"])
    applied = cli.with_flags(settings, args)
    assert (applied.api.host, applied.api.port, applied.database.url) == ("0.0.0.0", 9001, "pg://a")
    args = cli.build_parser().parse_args(["migrate", "--database-url", "pg://b", "--data-dir", "/d"])
    applied = cli.with_flags(settings, args)
    assert (applied.database.url, applied.database.data_dir, applied.api.port) == ("pg://b", Path("/d"), 9000)
    for command in ("api", "serve"):
        args = cli.build_parser().parse_args([command, "--tes-version", "1.2"])
        assert cli.with_flags(settings, args).api.tes_version == "1.2"
    assert cli.with_flags(Settings.from_env({"POIESIS_TES_VERSION": "1.2"}),
                          cli.build_parser().parse_args(["serve"])).api.tes_version == "1.2"


def test_trec_and_tctl_flags_override_the_tree() -> None:
    from poiesis.tctl import cli as tctl_cli
    from poiesis.trec import cli as trec_cli

    settings = Settings.from_env({"POIESIS_POD_NAME": "p", "POIESIS_POD_NAMESPACE": "ns", "POIESIS_TASK_ID": "t",
                                  "POIESIS_DATABASE_URL": "pg://a", "POIESIS_TREC_READY_PORT": "7",
                                  "POIESIS_TCTL_HTTP_PORT": "8080", "POIESIS_KUBE_NAMESPACE": "tes"})
    parser = argparse.ArgumentParser()
    trec_cli.add_arguments(parser)
    applied = trec_cli.with_flags(settings, parser.parse_args(["--task-id", "u", "--ready-file", "/r"]))
    assert (applied.pod.name, applied.pod.namespace, applied.pod.task_id) == ("p", "ns", "u")
    assert (applied.trec.ready_port, applied.trec.ready_file, applied.database.url) == (7, Path("/r"), "pg://a")
    assert trec_cli.with_flags(settings, parser.parse_args([])) == settings
    parser = argparse.ArgumentParser()
    tctl_cli.add_arguments(parser)
    applied = tctl_cli.with_flags(settings, parser.parse_args(["--namespace", "other", "--http-host", "0.0.0.0"]))
    assert (applied.kube.namespace, applied.tctl.http_host, applied.tctl.http_port) == ("other", "0.0.0.0", 8080)
    assert applied.pod.name == "p"  # TCtl's identity in the Lease
    assert tctl_cli.with_flags(settings, parser.parse_args([])) == settings


def test_override_keeps_the_section_when_nothing_is_given() -> None:
    section = config.ApiSettings()
    assert config.override(section, host=None) is section
    assert config.override(section, host="h").host == "h"


def test_the_access_log_setting_reaches_uvicorn() -> None:
    """POIESIS_ACCESS_LOG=false turns uvicorn's line per request off; it is on by default."""
    from poiesis.api import serving

    assert serving.uvicorn_config(Settings.from_env({}), None).access_log is True
    assert serving.uvicorn_config(Settings.from_env({"POIESIS_ACCESS_LOG": "false"}), None).access_log is False
