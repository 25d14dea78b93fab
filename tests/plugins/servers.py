"""Real servers on 127.0.0.1 for the filer tests: HTTP (GET/PUT), FTP (pyftpdlib), S3 (MinIO, built by scripts/minio).

Each server runs for the whole test session and serves a directory (or a
bucket) that tests fill through the server itself or the file system. A
``FlakyProxy`` sits in front of the HTTP and S3 servers to cut connections
mid-transfer; the FTP server has its own fault knob (``drops``).

A missing server package fails the tests when CI=true and skips them
locally with a message saying what to install.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import http.server
import os
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.plugins import unavailable

HTTP_USER, HTTP_PASSWORD = "alice", "http-pw-Zq81"
FTP_USER, FTP_PASSWORD = "ftpuser", "ftp-pw-Xk42"
LOOPBACK = "127.0.0.1"


def require(module: str, *, install: str) -> None:
    """Import ``module`` or fail (CI) / skip (locally) saying how to get it."""
    try:
        __import__(module)
    except ImportError:
        unavailable(f"{module} is missing: pip install -e '.[test]' (needs {install})")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def wait_for_port(port: int, *, timeout: float = 30.0) -> None:
    """Block until something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            socket.create_connection((LOOPBACK, port), timeout=0.5).close()
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {LOOPBACK}:{port} after {timeout}s")


# ---------------------------------------------------------------- HTTP


class _FileHandler(http.server.BaseHTTPRequestHandler):
    """GET/HEAD/PUT on a directory; /private/* needs Basic auth; /status/NNN answers NNN."""

    protocol_version = "HTTP/1.1"
    server: _HttpServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's name
        pass

    def do_HEAD(self) -> None:
        self._get(body=False)

    def do_GET(self) -> None:
        self._get(body=True)

    def do_PUT(self) -> None:
        if not self._admit():
            return
        length = int(self.headers.get("Content-Length", "-1"))
        if length < 0:
            return self._reply(411)
        target = self._local()
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".put.")
        with os.fdopen(fd, "wb") as fh:
            left = length
            while left:
                chunk = self.rfile.read(min(left, 1 << 20))
                if not chunk:
                    break
                fh.write(chunk)
                left -= len(chunk)
        if left:
            os.unlink(tmp)  # a cut upload is never stored
            self.close_connection = True
            return
        os.replace(tmp, target)
        self._reply(201)

    def _get(self, *, body: bool) -> None:
        if not self._admit():
            return
        target = self._local()
        if not target.is_file():
            return self._reply(404)
        size = target.stat().st_size
        self.send_response(200)
        self.send_header("Content-Length", str(size))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        if body:
            with target.open("rb") as fh:
                self.wfile.flush()
                offset = 0
                while offset < size:
                    offset += os.sendfile(self.connection.fileno(), fh.fileno(), offset, size - offset)

    def _admit(self) -> bool:
        path = self.path.split("?")[0]
        self.server.hits[path] += 1
        if path.startswith("/status/"):
            self._reply(int(path.split("/")[2]))
            return False
        if path.startswith("/hang/"):  # announce a megabyte, send a little, then stall
            self.send_response(200)
            self.send_header("Content-Length", str(1 << 20))
            self.end_headers()
            self.wfile.write(b"x" * 1000)
            self.wfile.flush()
            time.sleep(30)
            self.close_connection = True
            return False
        if path.startswith("/private/"):
            expected = base64.b64encode(f"{HTTP_USER}:{HTTP_PASSWORD}".encode()).decode()
            if self.headers.get("Authorization") != f"Basic {expected}":
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="poiesis-test"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return False
        return True

    def _local(self) -> Path:
        from urllib.parse import unquote

        rel = unquote(self.path.split("?")[0]).lstrip("/")
        target = (self.server.directory / rel).resolve()
        if not target.is_relative_to(self.server.directory.resolve()):
            raise PermissionError(rel)
        return target

    def _reply(self, code: int) -> None:
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()


class _HttpServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    directory: Path
    hits: collections.Counter[str]


@dataclass
class HttpServer:
    """A running HTTP file server: ``url(path)`` for plain, ``private_url`` for authenticated paths."""

    directory: Path
    port: int
    httpd: _HttpServer

    def url(self, path: str, *, port: int | None = None, auth: str = "") -> str:
        return f"http://{auth}{LOOPBACK}:{port or self.port}/{path.lstrip('/')}"

    def hits(self, path: str) -> int:
        return self.httpd.hits["/" + path.lstrip("/")]


def start_http_server(directory: Path, port: int = 0) -> _HttpServer:
    """Start the file server in a daemon thread; the caller shuts it down."""
    httpd = _HttpServer((LOOPBACK, port), _FileHandler)
    httpd.directory = directory
    httpd.hits = collections.Counter()
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


@pytest.fixture(scope="session")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    """An HTTP server on 127.0.0.1 serving and accepting files in a temp directory."""
    directory = tmp_path_factory.mktemp("http")
    httpd = start_http_server(directory)
    yield HttpServer(directory, httpd.server_address[1], httpd)
    httpd.shutdown()
    httpd.server_close()


# ---------------------------------------------------------------- proxy that drops connections


class FlakyProxy:
    """A TCP proxy to 127.0.0.1:``target``; cuts connections that pass ``cut_after`` bytes.

    While ``drops`` is above zero, any connection whose traffic (both
    directions) exceeds ``cut_after`` bytes is reset and ``drops`` goes down
    by one. ``drops = 0`` makes it a plain proxy.
    """

    def __init__(self, target: int, *, cut_after: int = 256 * 1024) -> None:
        self.target, self.cut_after, self.drops, self.cuts = target, cut_after, 0, 0
        self._lock = threading.Lock()
        self._sock = socket.create_server((LOOPBACK, 0))
        self.port = self._sock.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._closed = True
        self._sock.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            upstream = socket.create_connection((LOOPBACK, self.target))
            state = {"bytes": 0, "dead": False}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b, client, upstream, state), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, client: socket.socket,
              upstream: socket.socket, state: dict) -> None:
        try:
            while data := src.recv(64 * 1024):
                with self._lock:
                    state["bytes"] += len(data)
                    cut = not state["dead"] and self.drops > 0 and state["bytes"] > self.cut_after
                    if cut:
                        self.drops -= 1
                        self.cuts += 1
                        state["dead"] = True
                if cut or state["dead"]:
                    break
                dst.sendall(data)
        except OSError:
            pass
        if not state["dead"]:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)
            return
        for s in (client, upstream):  # reset both ends; shutdown also wakes the other pump
            with contextlib.suppress(OSError):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()


@pytest.fixture
def http_proxy(http_server: HttpServer) -> Iterator[FlakyProxy]:
    """A connection-cutting proxy in front of the HTTP server (fresh per test)."""
    proxy = FlakyProxy(http_server.port)
    yield proxy
    proxy.close()


# ---------------------------------------------------------------- FTP


@dataclass
class FtpServer:
    """A running pyftpdlib server; ``url(path)`` carries the test user's credentials."""

    directory: Path
    port: int
    faults: dict

    def url(self, path: str, *, user: str = FTP_USER, password: str = FTP_PASSWORD) -> str:
        return f"ftp://{user}:{password}@{LOOPBACK}:{self.port}/{path.lstrip('/')}"


def start_ftp_server(directory: Path, faults: dict | None, port: int = 0, *, use_sendfile: bool = False):  # type: ignore[no-untyped-def]
    """Start pyftpdlib in a daemon thread; ``faults['drops']`` cuts that many transfers (None: no faults)."""
    with warnings.catch_warnings():  # pyftpdlib still imports asyncore/asynchat
        warnings.simplefilter("ignore", DeprecationWarning)
        from pyftpdlib.authorizers import DummyAuthorizer
        from pyftpdlib.filesystems import AbstractedFS
        from pyftpdlib.handlers import FTPHandler
        from pyftpdlib.servers import ThreadedFTPServer

    class _Cut:
        """A file that fails after ``faults['cut_after']`` bytes, like a dropped connection."""

        def __init__(self, fh) -> None:  # type: ignore[no-untyped-def]
            self._fh, self._n = fh, 0

        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return getattr(self._fh, name)

        def read(self, n: int = -1) -> bytes:
            self._step(n)
            return self._fh.read(n)

        def write(self, data: bytes) -> int:
            self._step(len(data))
            return self._fh.write(data)

        def _step(self, n: int) -> None:
            self._n += max(n, 0)
            if self._n > faults["cut_after"]:
                raise ConnectionResetError(104, "connection reset (test fault)")

    class _FlakyFS(AbstractedFS):
        def open(self, filename, mode):  # type: ignore[no-untyped-def]
            fh = super().open(filename, mode)
            with faults["lock"]:
                if faults["drops"] > 0 and not os.path.basename(filename).startswith(".list"):
                    faults["drops"] -= 1
                    return _Cut(fh)
            return fh

    authorizer = DummyAuthorizer()
    authorizer.add_user(FTP_USER, FTP_PASSWORD, str(directory), perm="elradfmwMT")
    handler = type("Handler", (FTPHandler,), {"authorizer": authorizer,
                                               "abstracted_fs": AbstractedFS if faults is None else _FlakyFS,
                                               "use_sendfile": use_sendfile})
    handler.timeout = 60
    handler.auth_failed_timeout = 0.1
    server = ThreadedFTPServer((LOOPBACK, port), handler)
    server.max_cons = 64
    threading.Thread(target=server.serve_forever, kwargs={"timeout": 0.2}, daemon=True).start()
    return server


@pytest.fixture(scope="session")
def ftp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FtpServer]:
    """A pyftpdlib FTP server on 127.0.0.1 with one user owning a temp directory."""
    require("pyftpdlib", install="pyftpdlib")
    import logging

    logging.getLogger("pyftpdlib").setLevel(logging.WARNING)
    directory = tmp_path_factory.mktemp("ftp")
    faults = {"drops": 0, "cut_after": 256 * 1024, "lock": threading.Lock()}
    server = start_ftp_server(directory, faults)
    yield FtpServer(directory, server.address[1], faults)
    server.close_all()


@pytest.fixture
def ftp_faults(ftp_server: FtpServer) -> Iterator[dict]:
    """The FTP server's fault knob, reset after the test."""
    yield ftp_server.faults
    ftp_server.faults["drops"] = 0


# ---------------------------------------------------------------- S3 (MinIO)

REPO = Path(__file__).resolve().parents[2]
MINIO_USER, MINIO_PASSWORD = "poiesis-test", "poiesis-test-secret-4f9a"


@dataclass
class S3Server:
    """A MinIO server (separate process) and its valid key pair."""

    endpoint: str
    port: int
    access_key: str
    secret_key: str

    def client(self, *, endpoint: str | None = None, secret: str | None = None):  # type: ignore[no-untyped-def]
        import boto3

        return boto3.client(
            "s3", endpoint_url=endpoint or self.endpoint, region_name="us-east-1",
            aws_access_key_id=self.access_key, aws_secret_access_key=secret or self.secret_key,
        )

    def env(self, *, endpoint: str | None = None, secret: str | None = None) -> dict[str, str]:
        """The environment a filer needs to reach this server."""
        return {
            "POIESIS_S3_ENDPOINT_URL": endpoint or self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": secret or self.secret_key,
            "AWS_DEFAULT_REGION": "us-east-1",
        }


def minio_binary() -> Path:
    """Where scripts/minio keeps the MinIO binary (it may not be built)."""
    out = subprocess.run([str(REPO / "scripts" / "minio"), "path"], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def start_minio(port: int, *, data: Path, log: Path) -> subprocess.Popen:
    """Start MinIO on 127.0.0.1:``port`` with one data directory; returns once it is live."""
    binary = minio_binary()
    if not binary.exists():
        unavailable(f"MinIO is not built: run scripts/minio build (expected {binary})")
    env = dict(os.environ, MINIO_ROOT_USER=MINIO_USER, MINIO_ROOT_PASSWORD=MINIO_PASSWORD,
               MINIO_BROWSER="off", MINIO_UPDATE="off")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(binary), "server", str(data), "--address", f"{LOOPBACK}:{port}",
             "--console-address", f"{LOOPBACK}:{free_port()}", "--quiet"],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/minio/health/ready", timeout=2) as response:
                if response.status == 200:
                    return proc
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"MinIO did not come up; see {log}")
        time.sleep(0.2)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A MinIO server on 127.0.0.1 (real S3 signatures, real multipart)."""
    port = free_port()
    work = tmp_path_factory.mktemp("minio")
    proc = start_minio(port, data=work / "data", log=work / "minio.log")
    try:
        yield S3Server(f"http://{LOOPBACK}:{port}", port, MINIO_USER, MINIO_PASSWORD)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture
def s3_proxy(s3_server: S3Server) -> Iterator[FlakyProxy]:
    """A connection-cutting proxy in front of the S3 server (fresh per test)."""
    proxy = FlakyProxy(s3_server.port)
    yield proxy
    proxy.close()


@pytest.fixture
def s3_bucket(s3_server: S3Server, request: pytest.FixtureRequest) -> str:
    """A fresh, empty bucket for one test."""
    name = f"t{abs(hash(request.node.nodeid)) % 10**10}-{int(time.time() * 1000) % 10**6}"
    s3_server.client().create_bucket(Bucket=name)
    return name

