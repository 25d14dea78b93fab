"""The settings tree: every setting of every command, built once from the environment.

``load()`` is the one place Poiesis reads ``os.environ``: it hands the mapping
to ``Settings.from_env``, which builds the whole tree (each section parses its
own variables with ``poiesis.config.env``). Commands get the tree from
``poiesis.cli`` and pass it, or the section they need, down explicitly; API
workers receive it pickled with their app factory. Command-line flags
override the tree's values. docs/configuration.md lists every variable,
grouped as the tree is. Every setting has a default that runs on one machine
with nothing configured; a value that does not parse raises ``SettingsError``
naming its variable.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from poiesis.config.env import (
    Env,
    SettingsError,
    choice,
    data_home,
    flag,
    integer,
    number,
    path,
    string,
    text,
)
from poiesis.config.filer import FilerConfig
from poiesis.config.kube import KubeSettings
from poiesis.config.local import LocalSettings
from poiesis.config.security import SecuritySettings

BACKENDS = ("none", "local", "kubernetes")
LOG_FORMATS = ("text", "json")
#: The TES versions the API can serve, oldest first (each has openapi/v<version>/ and generated/v<major>_<minor>/).
TES_VERSIONS = ("1.1", "1.2")

__all__ = [
    "BACKENDS",
    "LOG_FORMATS",
    "TES_VERSIONS",
    "ApiSettings",
    "ClientSettings",
    "DatabaseSettings",
    "FeedSettings",
    "FilerConfig",
    "KubeSettings",
    "LocalSettings",
    "LoggingSettings",
    "MetricsSettings",
    "PodSettings",
    "SecuritySettings",
    "ServiceInfoSettings",
    "Settings",
    "SettingsError",
    "TctlSettings",
    "TrecSettings",
    "load",
    "override",
]

Section = TypeVar("Section")


def default_data_dir(env: Env) -> Path:
    """Where the embedded PostgreSQL keeps its data unless told otherwise: under XDG_DATA_HOME."""
    return data_home(env) / "poiesis" / "postgres"


@dataclass(frozen=True)
class ApiSettings:
    """Where ``poiesis api`` and ``poiesis serve`` listen."""

    host: str = "127.0.0.1"
    port: int = 8000
    #: uvicorn's line per request (about 6% of a GetTask's CPU); /metrics counts requests either way
    access_log: bool = True
    #: the TES version served: its document, validation and service-info's type.version (docs/api.md)
    tes_version: str = "1.1"

    @classmethod
    def from_env(cls, env: Env) -> ApiSettings:
        return cls(host=string(env, "POIESIS_HOST", cls.host), port=integer(env, "POIESIS_PORT", cls.port),
                   access_log=flag(env, "POIESIS_ACCESS_LOG", cls.access_log),
                   tes_version=choice(env, "POIESIS_TES_VERSION", cls.tes_version, TES_VERSIONS))


@dataclass(frozen=True)
class DatabaseSettings:
    """The PostgreSQL every role uses (none given: the embedded server keeping its data in ``data_dir``)."""

    url: str | None = None
    #: the task Pods' credential (its user and password): ``poiesis migrate`` makes its role (docs/security.md)
    task_url: str | None = None
    data_dir: Path = field(default_factory=lambda: default_data_dir({}))
    #: connections per API worker, and seconds to wait for one before answering 503
    pool_size: int = 10
    timeout: float = 5.0

    @classmethod
    def from_env(cls, env: Env) -> DatabaseSettings:
        return cls(
            url=text(env, "POIESIS_DATABASE_URL"),
            task_url=text(env, "POIESIS_TASK_DATABASE_URL"),
            data_dir=path(env, "POIESIS_DATA_DIR") or default_data_dir(env),
            pool_size=integer(env, "POIESIS_DB_POOL_SIZE", cls.pool_size),
            timeout=number(env, "POIESIS_DB_TIMEOUT", cls.timeout),
        )


@dataclass(frozen=True)
class ServiceInfoSettings:
    """What GET /service-info says about this deployment."""

    id: str = "org.poiesis.tes"
    name: str = "Poiesis"
    description: str = "GA4GH Task Execution Service: one Kubernetes Pod per task, state in PostgreSQL."
    organization_name: str = "Poiesis"
    organization_url: str = "https://example.org/poiesis"
    contact_url: str | None = None
    documentation_url: str | None = None
    environment: str | None = None
    version: str = "0.1.0"

    @classmethod
    def from_env(cls, env: Env) -> ServiceInfoSettings:
        return cls(
            id=string(env, "POIESIS_SERVICE_ID", cls.id),
            name=string(env, "POIESIS_SERVICE_NAME", cls.name),
            organization_name=string(env, "POIESIS_ORGANIZATION_NAME", cls.organization_name),
            organization_url=string(env, "POIESIS_ORGANIZATION_URL", cls.organization_url),
            contact_url=text(env, "POIESIS_CONTACT_URL"),
            documentation_url=text(env, "POIESIS_DOCUMENTATION_URL"),
            environment=text(env, "POIESIS_ENVIRONMENT"),
        )


@dataclass(frozen=True)
class PodSettings:
    """The task Pod a process runs in, as the Job's Pod spec gives it (kube/build.py sets these)."""

    #: the Pod's name: the Pod TRec watches, TCtl's identity in the Lease
    name: str | None = None
    namespace: str | None = None
    task_id: str | None = None
    #: the task volume
    transfer_dir: str = "/transfer"
    #: the task's secret (from its Secret): TRec records the task through the functions a task's own
    #: database credential may call (docs/security.md); None: through the API's (tests, tools)
    task_secret: str | None = None

    @classmethod
    def from_env(cls, env: Env) -> PodSettings:
        return cls(
            name=text(env, "POIESIS_POD_NAME"),
            namespace=text(env, "POIESIS_POD_NAMESPACE"),
            task_id=text(env, "POIESIS_TASK_ID"),
            transfer_dir=string(env, "POIESIS_TRANSFER_DIR", cls.transfer_dir),
            task_secret=text(env, "POIESIS_TASK_SECRET"),
        )


@dataclass(frozen=True)
class TrecSettings:
    """``poiesis trec``: how it says its watch is set up."""

    #: touched once the watch is set up (tests of TRec outside a Pod)
    ready_file: Path | None = None
    #: listened on once the watch is set up; the startupProbe connects (None: no port)
    ready_port: int | None = None

    @classmethod
    def from_env(cls, env: Env) -> TrecSettings:
        return cls(
            ready_file=path(env, "POIESIS_TREC_READY_FILE"),
            ready_port=integer(env, "POIESIS_TREC_READY_PORT", 0) or None,
        )


@dataclass(frozen=True)
class TctlSettings:
    """``poiesis tctl``: its /healthz, /readyz and /metrics server (port 0: none)."""

    http_port: int = 0
    http_host: str = "127.0.0.1"

    @classmethod
    def from_env(cls, env: Env) -> TctlSettings:
        return cls(
            http_port=integer(env, "POIESIS_TCTL_HTTP_PORT", cls.http_port),
            http_host=string(env, "POIESIS_TCTL_HTTP_HOST", cls.http_host),
        )


@dataclass(frozen=True)
class ClientSettings:
    """``poiesis task``: the TES server it talks to and the bearer token it sends."""

    server: str = "http://127.0.0.1:8000"
    token: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Env) -> ClientSettings:
        return cls(server=string(env, "POIESIS_SERVER", cls.server), token=text(env, "POIESIS_TOKEN"))


@dataclass(frozen=True)
class FeedSettings:
    """The change feed (GET /ga4gh/tes/v1/events, docs/api.md): what one API worker holds for its subscribers."""

    #: streams one worker serves at once; beyond, 503 (each also holds one of POIESIS_LIMIT_CONCURRENCY)
    subscribers: int = 500
    #: events waiting for one subscriber; a subscriber this far behind is dropped (it resumes with since)
    queue: int = 1000

    @classmethod
    def from_env(cls, env: Env) -> FeedSettings:
        return cls(subscribers=integer(env, "POIESIS_FEED_SUBSCRIBERS", cls.subscribers),
                   queue=integer(env, "POIESIS_FEED_QUEUE", cls.queue))


@dataclass(frozen=True)
class LoggingSettings:
    """Log lines of every command: ``text``, or ``json`` (one object a line)."""

    format: str = "text"

    @classmethod
    def from_env(cls, env: Env) -> LoggingSettings:
        return cls(format=choice(env, "POIESIS_LOG_FORMAT", cls.format, LOG_FORMATS, lower=True))


@dataclass(frozen=True)
class MetricsSettings:
    """Prometheus: the directory every API worker writes its series to (None: one process, its own registry)."""

    multiproc_dir: str | None = None

    @classmethod
    def from_env(cls, env: Env) -> MetricsSettings:
        # prometheus_client reads the same variable itself when imported: both must agree
        return cls(multiproc_dir=text(env, "PROMETHEUS_MULTIPROC_DIR"))


@dataclass(frozen=True)
class Settings:
    """The whole tree; each command uses the sections it needs."""

    api: ApiSettings = field(default_factory=ApiSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    #: where tasks run: none (they stay QUEUED), local (this machine) or kubernetes
    backend: str = "none"
    service: ServiceInfoSettings = field(default_factory=ServiceInfoSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    local: LocalSettings = field(default_factory=LocalSettings)
    kube: KubeSettings = field(default_factory=KubeSettings)
    filer: FilerConfig = field(default_factory=FilerConfig)
    pod: PodSettings = field(default_factory=PodSettings)
    trec: TrecSettings = field(default_factory=TrecSettings)
    tctl: TctlSettings = field(default_factory=TctlSettings)
    client: ClientSettings = field(default_factory=ClientSettings)
    feed: FeedSettings = field(default_factory=FeedSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)

    @classmethod
    def from_env(cls, env: Env) -> Settings:
        """The whole tree from an environment mapping; raises SettingsError naming the first bad variable."""
        return cls(
            api=ApiSettings.from_env(env),
            database=DatabaseSettings.from_env(env),
            backend=choice(env, "POIESIS_BACKEND", cls.backend, BACKENDS),
            service=ServiceInfoSettings.from_env(env),
            security=SecuritySettings.from_env(env),
            local=LocalSettings.from_env(env),
            kube=KubeSettings.from_env(env),
            filer=FilerConfig.from_env(env),
            pod=PodSettings.from_env(env),
            trec=TrecSettings.from_env(env),
            tctl=TctlSettings.from_env(env),
            client=ClientSettings.from_env(env),
            feed=FeedSettings.from_env(env),
            logging=LoggingSettings.from_env(env),
            metrics=MetricsSettings.from_env(env),
        )


def override(section: Section, **values: Any) -> Section:
    """``section`` with the values that are not None in place of its own: command-line flags over the environment."""
    given = {key: value for key, value in values.items() if value is not None}
    return dataclasses.replace(section, **given) if given else section  # type: ignore[type-var]


def load() -> Settings:
    """This process's settings, from its environment: the only read of ``os.environ`` in Poiesis."""
    return Settings.from_env(os.environ)
