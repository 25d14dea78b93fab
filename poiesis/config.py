"""Server configuration, read once from the environment.

Every setting has an environment variable (listed in docs/configuration.md)
and a default that runs on one machine with nothing configured.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from poiesis.security_settings import SecuritySettings


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


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


@dataclass(frozen=True)
class Settings:
    """Everything the API process needs to know."""

    database_url: str | None = None
    data_dir: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    backend: str = "none"
    db_pool_size: int = 10
    db_timeout: float = 5.0
    service: ServiceInfoSettings = field(default_factory=ServiceInfoSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)

    @classmethod
    def from_env(cls) -> Settings:
        """Settings from POIESIS_* environment variables."""
        data_dir = _env("POIESIS_DATA_DIR")
        return cls(
            database_url=_env("POIESIS_DATABASE_URL"),
            data_dir=Path(data_dir) if data_dir else None,
            host=_env("POIESIS_HOST", "127.0.0.1") or "127.0.0.1",
            port=int(_env("POIESIS_PORT", "8000") or 8000),
            backend=_env("POIESIS_BACKEND", "none") or "none",
            db_pool_size=int(_env("POIESIS_DB_POOL_SIZE", "10") or 10),
            db_timeout=float(_env("POIESIS_DB_TIMEOUT", "5") or 5),
            service=ServiceInfoSettings(
                id=_env("POIESIS_SERVICE_ID", ServiceInfoSettings.id) or ServiceInfoSettings.id,
                name=_env("POIESIS_SERVICE_NAME", ServiceInfoSettings.name) or ServiceInfoSettings.name,
                organization_name=_env("POIESIS_ORGANIZATION_NAME", ServiceInfoSettings.organization_name)
                or ServiceInfoSettings.organization_name,
                organization_url=_env("POIESIS_ORGANIZATION_URL", ServiceInfoSettings.organization_url)
                or ServiceInfoSettings.organization_url,
                contact_url=_env("POIESIS_CONTACT_URL"),
                documentation_url=_env("POIESIS_DOCUMENTATION_URL"),
                environment=_env("POIESIS_ENVIRONMENT"),
            ),
            security=SecuritySettings.from_env(),
        )
