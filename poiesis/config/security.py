"""Security settings: authentication, request limits and the names the API answers to.

The ``security`` section of the settings tree, from POIESIS_AUTH_*, POIESIS_LIMIT_*,
POIESIS_ALLOWED_HOSTS and POIESIS_ALLOWED_ORIGINS (docs/configuration.md). Pure:
the auth module reads the files named here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from poiesis.config.env import Env, SettingsError, choice, integer, number, path, string, text, words

AUTH_MODES = ("none", "basic", "jwt")
MiB = 1024 * 1024
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "[::1]")


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
            raise SettingsError(f"POIESIS_AUTH must be one of {', '.join(AUTH_MODES)}, not {self.mode!r}")
        if self.mode == "basic" and self.basic_file is None:
            raise SettingsError("POIESIS_AUTH=basic needs POIESIS_AUTH_BASIC_FILE")
        if self.mode == "jwt" and not (self.jwks_file and self.issuer and self.audience):
            raise SettingsError("POIESIS_AUTH=jwt needs POIESIS_AUTH_JWKS_FILE, POIESIS_AUTH_ISSUER and POIESIS_AUTH_AUDIENCE")

    @classmethod
    def from_env(cls, env: Env) -> AuthSettings:
        return cls(
            mode=choice(env, "POIESIS_AUTH", cls.mode, AUTH_MODES, lower=True),
            basic_file=path(env, "POIESIS_AUTH_BASIC_FILE"),
            jwks_file=path(env, "POIESIS_AUTH_JWKS_FILE"),
            issuer=text(env, "POIESIS_AUTH_ISSUER"),
            audience=text(env, "POIESIS_AUTH_AUDIENCE"),
            subject_claim=string(env, "POIESIS_AUTH_SUBJECT_CLAIM", cls.subject_claim),
            roles_claim=string(env, "POIESIS_AUTH_ROLES_CLAIM", cls.roles_claim),
            admin_role=string(env, "POIESIS_AUTH_ADMIN_ROLE", cls.admin_role),
            admin_users=words(env, "POIESIS_AUTH_ADMIN_USERS"),
            leeway=number(env, "POIESIS_AUTH_LEEWAY", cls.leeway),
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
    #: seconds a client may take to send a request's body, once its headers are in (408 beyond).
    body_timeout: float = 30.0
    #: connections and requests one worker serves at once; beyond, uvicorn answers 503.
    concurrency: int = 1000
    #: bytes of request line plus headers.
    header_bytes: int = 16 * 1024

    @classmethod
    def from_env(cls, env: Env) -> Limits:
        """Each field from POIESIS_LIMIT_<FIELD>: a whole number, or any number for the timeouts."""
        values: dict[str, Any] = {}
        for name, default in vars(cls()).items():
            read = number if isinstance(default, float) else integer
            values[name] = read(env, f"POIESIS_LIMIT_{name.upper()}", default)
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
    def from_env(cls, env: Env) -> SecuritySettings:
        return cls(
            auth=AuthSettings.from_env(env),
            limits=Limits.from_env(env),
            allowed_hosts=words(env, "POIESIS_ALLOWED_HOSTS"),
            allowed_origins=words(env, "POIESIS_ALLOWED_ORIGINS"),
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
