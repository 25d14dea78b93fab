"""Security settings: authentication, request limits and the names the API answers to.

Read once from POIESIS_AUTH_*, POIESIS_LIMIT_*, POIESIS_ALLOWED_HOSTS and
POIESIS_ALLOWED_ORIGINS (docs/configuration.md). Pure: no I/O beyond the
environment; the auth module reads the files named here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

AUTH_MODES = ("none", "basic", "jwt")
MiB = 1024 * 1024
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "[::1]")


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    return value if value not in (None, "") else None


def _list(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


@dataclass(frozen=True)
class AuthSettings:
    """Who may call the API (docs/security.md)."""

    mode: str = "none"
    #: basic: a file of ``user:bcrypt-hash`` lines.
    basic_file: Path | None = None
    #: jwt: a JWKS document (JSON) holding the issuer's public keys; issuer and audience to require.
    jwks_file: Path | None = None
    issuer: str | None = None
    audience: str | None = None
    #: jwt: the claim naming the caller (its value is the owner of the caller's tasks).
    subject_claim: str = "sub"
    #: jwt: a claim (string or list) that holds ``admin_role`` for administrators.
    roles_claim: str = "roles"
    admin_role: str = "tes-admin"
    #: basic users (names) that see every task.
    admin_users: tuple[str, ...] = ()
    #: seconds of clock skew accepted on exp/nbf/iat.
    leeway: float = 30.0

    def __post_init__(self) -> None:
        if self.mode not in AUTH_MODES:
            raise ValueError(f"POIESIS_AUTH must be one of {', '.join(AUTH_MODES)}, not {self.mode!r}")
        if self.mode == "basic" and self.basic_file is None:
            raise ValueError("POIESIS_AUTH=basic needs POIESIS_AUTH_BASIC_FILE")
        if self.mode == "jwt" and not (self.jwks_file and self.issuer and self.audience):
            raise ValueError("POIESIS_AUTH=jwt needs POIESIS_AUTH_JWKS_FILE, POIESIS_AUTH_ISSUER and POIESIS_AUTH_AUDIENCE")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AuthSettings:
        env = os.environ if env is None else env
        basic, jwks = _get(env, "POIESIS_AUTH_BASIC_FILE"), _get(env, "POIESIS_AUTH_JWKS_FILE")
        return cls(
            mode=(_get(env, "POIESIS_AUTH") or "none").lower(),
            basic_file=Path(basic) if basic else None,
            jwks_file=Path(jwks) if jwks else None,
            issuer=_get(env, "POIESIS_AUTH_ISSUER"),
            audience=_get(env, "POIESIS_AUTH_AUDIENCE"),
            subject_claim=_get(env, "POIESIS_AUTH_SUBJECT_CLAIM") or cls.subject_claim,
            roles_claim=_get(env, "POIESIS_AUTH_ROLES_CLAIM") or cls.roles_claim,
            admin_role=_get(env, "POIESIS_AUTH_ADMIN_ROLE") or cls.admin_role,
            admin_users=_list(_get(env, "POIESIS_AUTH_ADMIN_USERS")),
            leeway=float(_get(env, "POIESIS_AUTH_LEEWAY") or cls.leeway),
        )


@dataclass(frozen=True)
class Limits:
    """Bounds on what one request may ask of the server; each refusal is a 4xx naming the limit."""

    body_bytes: int = 4 * MiB
    executors: int = 64
    inputs: int = 1024
    outputs: int = 1024
    volumes: int = 256
    tags: int = 256
    content_bytes: int = 1 * MiB
    #: ListTasks: a page stops before its JSON exceeds this (at least one task is always returned).
    list_bytes: int = 8 * MiB
    #: nesting depth of a JSON body.
    json_depth: int = 32
    #: seconds a client may take to send a request's headers.
    header_timeout: float = 10.0
    #: seconds an idle keep-alive connection stays open.
    idle_timeout: float = 5.0
    #: bytes of request line plus headers.
    header_bytes: int = 16 * 1024

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Limits:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for name, kind in (
            ("body_bytes", int), ("executors", int), ("inputs", int), ("outputs", int), ("volumes", int),
            ("tags", int), ("content_bytes", int), ("list_bytes", int), ("json_depth", int),
            ("header_timeout", float), ("idle_timeout", float), ("header_bytes", int),
        ):
            raw = _get(env, f"POIESIS_LIMIT_{name.upper()}")
            if raw is not None:
                values[name] = kind(raw)
        return cls(**values)


@dataclass(frozen=True)
class SecuritySettings:
    """Authentication, limits, and the Host/Origin names the API accepts."""

    auth: AuthSettings = field(default_factory=AuthSettings)
    limits: Limits = field(default_factory=Limits)
    #: Host header names (without port) accepted besides the loopback names; ``*`` accepts any.
    allowed_hosts: tuple[str, ...] = ()
    #: Origins (scheme://host[:port]) allowed to make state-changing requests from a browser.
    allowed_origins: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SecuritySettings:
        env = os.environ if env is None else env
        return cls(
            auth=AuthSettings.from_env(env),
            limits=Limits.from_env(env),
            allowed_hosts=_list(_get(env, "POIESIS_ALLOWED_HOSTS")),
            allowed_origins=_list(_get(env, "POIESIS_ALLOWED_ORIGINS")),
        )


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or name to listen on) is reachable only from this machine."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
