"""The ``filer`` section of the settings tree: file:// roots, S3 and retries, from POIESIS_FILER_*, POIESIS_S3_* and AWS_*.

Used by the filers (``poiesis filer`` in a Pod, in-process by the local
backend) and by every backend for service-info's ``storage``. Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from poiesis.config.env import Env, SettingsError, integer, number, string, text, words
from poiesis.retry import Backoff

MiB = 1024 * 1024
#: the variable naming the file:// roots (set but empty: none)
FILE_ROOTS_ENV = "POIESIS_FILER_FILE_ROOTS"
#: credentials whose values never appear in a filer's messages (errors.redact)
SECRET_ENV_VARS = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID")

# The filers' retry policy is the shared backoff; the name is the filer's public one.
RetryPolicy = Backoff

#: the variable allowing destinations the filers refuse by default (private, loopback, link-local...)
ALLOW_NETWORKS_ENV = "POIESIS_FILER_ALLOW_NETWORKS"
#: the URL schemes whose destinations the filers check (an s3:// URL names a bucket, not a host)
GUARDED_SCHEMES = ("http", "https", "ftp")
#: in ``allow_networks``: an entry without a scheme, for every guarded scheme
ANY_SCHEME = "*"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(value: str, *, name: str = ALLOW_NETWORKS_ENV) -> tuple[tuple[str, Network], ...]:
    """``CIDR`` or ``scheme=CIDR`` entries, separated by commas or white space, as (scheme or '*', network).

    ``10.1.0.0/16 ftp=192.168.5.7`` allows 10.1.0.0/16 for http, https and ftp
    and the one address 192.168.5.7 for ftp. A network with host bits set
    (``10.1.2.3/16``) is refused as a likely typo.
    """
    found: list[tuple[str, Network]] = []
    for entry in value.replace(",", " ").split():
        scheme, _, cidr = entry.rpartition("=")
        scheme = scheme.strip().lower() or ANY_SCHEME
        if scheme != ANY_SCHEME and scheme not in GUARDED_SCHEMES:
            raise SettingsError(f"{name}: {entry!r}: the scheme must be one of {', '.join(GUARDED_SCHEMES)}")
        try:
            found.append((scheme, ipaddress.ip_network(cidr.strip())))
        except ValueError as exc:
            raise SettingsError(f"{name}: {entry!r} is not a network ({exc})") from None
    return tuple(found)


@dataclass(frozen=True)
class FilerConfig:
    """Everything a filer needs besides the task itself."""

    file_roots: tuple[Path, ...] = ()
    #: whether POIESIS_FILER_FILE_ROOTS was set at all (else a backend may pick its own roots)
    file_roots_set: bool = False
    #: Buckets service-info names under ``storage`` (empty: ``s3://``, any bucket the credentials reach).
    s3_buckets: tuple[str, ...] = ()
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_addressing_style: str = "auto"
    s3_part_size: int = 16 * MiB
    chunk_size: int = 1 * MiB
    connect_timeout: float = 30.0
    read_timeout: float = 300.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    #: values of SECRET_ENV_VARS, removed from every message a filer raises, logs or writes
    secrets: tuple[str, ...] = field(default=(), repr=False)
    #: networks http(s)/ftp transfers may reach although ``poiesis.filer.destinations`` refuses them by
    #: default (loopback, private, link-local, metadata...): (scheme or '*', network), from POIESIS_FILER_ALLOW_NETWORKS
    allow_networks: tuple[tuple[str, Network], ...] = ()

    def allowed_networks(self, scheme: str) -> tuple[Network, ...]:
        """The networks ``scheme``'s transfers may reach beyond the public internet."""
        return tuple(net for which, net in self.allow_networks if which in (ANY_SCHEME, scheme))

    def with_default_roots(self, roots: tuple[Path, ...]) -> FilerConfig:
        """This configuration, with ``roots`` as file roots unless POIESIS_FILER_FILE_ROOTS was set."""
        return self if self.file_roots_set else dataclasses.replace(self, file_roots=tuple(roots))

    @classmethod
    def from_env(cls, env: Env) -> FilerConfig:
        """The configuration from ``POIESIS_*`` and standard AWS variables.

        POIESIS_FILER_FILE_ROOTS set to the empty string means no file:// access;
        unset, ``with_default_roots`` may give a backend's own.
        """
        endpoint = text(env, "POIESIS_S3_ENDPOINT_URL") or text(env, "AWS_ENDPOINT_URL")
        return cls(
            file_roots=tuple(Path(p) for p in env.get(FILE_ROOTS_ENV, "").split(":") if p),
            file_roots_set=FILE_ROOTS_ENV in env,
            s3_buckets=words(env, "POIESIS_S3_BUCKETS", spaces=True),
            s3_endpoint_url=endpoint,
            s3_region=text(env, "AWS_REGION") or string(env, "AWS_DEFAULT_REGION", cls.s3_region),
            s3_addressing_style=string(env, "POIESIS_S3_ADDRESSING_STYLE", "path" if endpoint else "auto"),
            s3_part_size=integer(env, "POIESIS_S3_PART_SIZE_MIB", cls.s3_part_size // MiB) * MiB,
            retry=RetryPolicy(
                attempts=integer(env, "POIESIS_FILER_RETRIES", RetryPolicy.attempts),
                base_delay=number(env, "POIESIS_FILER_RETRY_DELAY", RetryPolicy.base_delay),
            ),
            secrets=tuple(value for name in SECRET_ENV_VARS if (value := text(env, name))),
            allow_networks=parse_networks(text(env, ALLOW_NETWORKS_ENV) or ""),
        )
