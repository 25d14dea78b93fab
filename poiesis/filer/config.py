"""Filer configuration, read once from the environment.

Nothing here performs I/O besides reading environment variables.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from poiesis.retry import Backoff

MiB = 1024 * 1024


# The filers' retry policy is the shared backoff; the name is the filer's public one.
RetryPolicy = Backoff


@dataclass(frozen=True)
class FilerConfig:
    """Everything a filer needs besides the task itself."""

    file_roots: tuple[Path, ...] = ()
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

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, default_file_roots: tuple[Path, ...] = ()
    ) -> FilerConfig:
        """Build the configuration from ``POIESIS_*`` and standard AWS variables.

        ``default_file_roots`` applies when POIESIS_FILER_FILE_ROOTS is not set at
        all; set to the empty string it means no file:// access.
        """
        env = os.environ if environ is None else environ
        if "POIESIS_FILER_FILE_ROOTS" in env:
            roots = tuple(Path(p) for p in env["POIESIS_FILER_FILE_ROOTS"].split(":") if p)
        else:
            roots = tuple(default_file_roots)
        endpoint = env.get("POIESIS_S3_ENDPOINT_URL") or env.get("AWS_ENDPOINT_URL") or None
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
        retry = RetryPolicy(
            attempts=int(env.get("POIESIS_FILER_RETRIES", RetryPolicy.attempts)),
            base_delay=float(env.get("POIESIS_FILER_RETRY_DELAY", RetryPolicy.base_delay)),
        )
        return cls(
            file_roots=roots,
            s3_buckets=tuple(b for b in env.get("POIESIS_S3_BUCKETS", "").replace(",", " ").split() if b),
            s3_endpoint_url=endpoint,
            s3_region=region,
            s3_addressing_style=env.get("POIESIS_S3_ADDRESSING_STYLE", "path" if endpoint else "auto"),
            s3_part_size=int(env.get("POIESIS_S3_PART_SIZE_MIB", 16)) * MiB,
            retry=retry,
        )
