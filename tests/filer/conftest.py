"""Per-scheme views of the test servers, so one test body covers every scheme."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from poiesis.config.filer import parse_networks
from poiesis.filer import FilerConfig, RetryPolicy
from tests.plugins.servers import FtpServer, HttpServer, S3Server

_ids = itertools.count()
FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)


@dataclass
class Remote:
    """One scheme's storage as the tests see it: URLs plus server-side read/write."""

    scheme: str
    base: str  # directory URL, no trailing slash
    put: Callable[[str, bytes], None]
    get: Callable[[str], bytes]
    exists: Callable[[str], bool]
    has_dirs: bool = True

    def url(self, rel: str = "") -> str:
        return f"{self.base}/{rel}" if rel else self.base


def _dir_remote(scheme: str, base: str, directory: Path, *, has_dirs: bool = True) -> Remote:
    def put(rel: str, data: bytes) -> None:
        target = directory / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    return Remote(scheme, base, put, lambda rel: (directory / rel).read_bytes(),
                  lambda rel: (directory / rel).exists(), has_dirs)


@pytest.fixture
def file_store(tmp_path: Path) -> Path:
    """The allowed root for file:// URLs in this test."""
    store = tmp_path / "store"
    store.mkdir()
    return store


@pytest.fixture(autouse=True)
def _no_ambient_s3_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see only the S3 settings they set themselves."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL",
                 "POIESIS_S3_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)


#: the test servers listen on 127.0.0.1, which the filers refuse unless allowed (poiesis.filer.destinations)
LOOPBACK_ALLOWED = parse_networks("127.0.0.1/32")


@pytest.fixture
def config(file_store: Path) -> FilerConfig:
    """Filer config with fast retries, ``file_store`` as the only allowed file root, 127.0.0.1 reachable."""
    return FilerConfig(file_roots=(file_store,), retry=FAST_RETRY, connect_timeout=5, read_timeout=20,
                       allow_networks=LOOPBACK_ALLOWED)


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """Valid S3 credentials in the environment (boto3's standard chain)."""
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    return s3_server


@pytest.fixture
def s3_config(config: FilerConfig, s3_env: S3Server) -> FilerConfig:
    """``config`` pointing at the test S3 server."""
    return FilerConfig(**{**config.__dict__, "s3_endpoint_url": s3_env.endpoint, "s3_addressing_style": "path"})


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The task's shared volume (``--root``)."""
    path = tmp_path / "root"
    path.mkdir()
    return path


@pytest.fixture(params=["file", "http", "ftp", "s3"])
def remote(request: pytest.FixtureRequest, file_store: Path) -> Iterator[tuple[Remote, str]]:
    """(Remote, name of the config fixture to use) for each scheme, under a fresh prefix."""
    prefix = f"r{next(_ids)}"
    scheme = request.param
    if scheme == "file":
        yield _dir_remote("file", f"file://{file_store}/{prefix}", file_store / prefix), "config"
    elif scheme == "http":
        srv: HttpServer = request.getfixturevalue("http_server")
        yield _dir_remote("http", srv.url(prefix), srv.directory / prefix, has_dirs=False), "config"
    elif scheme == "ftp":
        ftp: FtpServer = request.getfixturevalue("ftp_server")
        yield _dir_remote("ftp", ftp.url(prefix), ftp.directory / prefix), "config"
    else:
        s3: S3Server = request.getfixturevalue("s3_server")
        bucket = request.getfixturevalue("s3_bucket")
        client = s3.client()

        def put(rel: str, data: bytes) -> None:
            client.put_object(Bucket=bucket, Key=f"{prefix}/{rel}", Body=data)

        def get(rel: str) -> bytes:
            return client.get_object(Bucket=bucket, Key=f"{prefix}/{rel}")["Body"].read()

        def exists(rel: str) -> bool:
            return client.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/{rel}").get("KeyCount", 0) > 0

        yield Remote("s3", f"s3://{bucket}/{prefix}", put, get, exists), "s3_config"
