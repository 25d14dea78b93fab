"""SSRF: a task's http(s)/ftp URLs cannot reach loopback, private, link-local or metadata addresses by default.

Real servers on 127.0.0.1 stand in for a metadata service (127.0.0.1 is
refused by default exactly as 169.254.169.254 is). Addresses that must never
be contacted for real (169.254.169.254, fd00:ec2::254) are shown refused
before any packet: an audit hook records every ``socket.connect`` the process
makes (Python's own ``sys.audit`` events, not a mock) and none may go there.
"""

from __future__ import annotations

import dataclasses
import http.server
import ipaddress
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from poiesis.config import Settings
from poiesis.config.filer import parse_networks
from poiesis.filer import FilerConfig, FilerError, fetch_inputs, upload_outputs
from poiesis.filer import destinations as dest
from tests.filer.conftest import FAST_RETRY
from tests.plugins.servers import LOOPBACK, FtpServer, HttpServer, S3Server
from tests.tasks import inputs_of, outputs_of


class _Recorder:
    """Every socket.connect address and getaddrinfo host of this process while ``active``."""

    def __init__(self) -> None:
        self.active = False
        self.connects: list[Any] = []
        self.lookups: list[Any] = []

    def __call__(self, event: str, args: tuple) -> None:
        if not self.active:
            return
        if event == "socket.connect":
            self.connects.append(args[1])
        elif event == "socket.getaddrinfo":
            self.lookups.append(args[0])


_RECORDER = _Recorder()
sys.addaudithook(_RECORDER)  # cannot be removed: it records only inside ``watching``


@contextmanager
def watching() -> Iterator[_Recorder]:
    _RECORDER.connects, _RECORDER.lookups = [], []
    _RECORDER.active = True
    try:
        yield _RECORDER
    finally:
        _RECORDER.active = False


def _default(file_store: Path) -> FilerConfig:
    """The filer's settings as an empty environment gives them (no network allowed), fast retries."""
    base = Settings.from_env({}).filer
    assert base.allow_networks == ()
    return dataclasses.replace(base, file_roots=(file_store,), retry=FAST_RETRY, connect_timeout=5, read_timeout=10)


def _get(url: str, root: Path, config: FilerConfig) -> None:
    fetch_inputs(inputs_of({"inputs": [{"path": "/in/x", "url": url}]}), root=root, config=config)


# -- a real server on 127.0.0.1 -------------------------------------------------------------


def test_default_settings_refuse_a_real_http_server_on_loopback(
    http_server: HttpServer, root: Path, file_store: Path
) -> None:
    """GET and PUT to 127.0.0.1 fail at once (not retried) and the server never sees a request; allowed, they work."""
    (http_server.directory / "meta/latest").mkdir(parents=True, exist_ok=True)
    (http_server.directory / "meta/latest/credentials").write_text("INSTANCE-CREDENTIALS")
    url = http_server.url("meta/latest/credentials")
    config = _default(file_store)
    with watching() as seen, pytest.raises(FilerError) as refused:
        _get(url, root, config)
    message = str(refused.value)
    assert f"GET {url}: refused to connect to 127.0.0.1 (a loopback address)" in message, message
    assert "POIESIS_FILER_ALLOW_NETWORKS can allow it for http" in message and "gave up" not in message
    assert http_server.hits("meta/latest/credentials") == 0
    assert seen.connects == []
    assert not (root / "files/in/x").exists()

    (root / "files/out").mkdir(parents=True)
    (root / "files/out/o.txt").write_text("task output")
    with pytest.raises(FilerError, match=r"refused to connect to 127\.0\.0\.1"):
        upload_outputs(outputs_of({"outputs": [{"path": "/out/o.txt", "url": http_server.url("put/o.txt")}]}),
                       root=root, config=config)
    assert not (http_server.directory / "put/o.txt").exists()

    allowed = dataclasses.replace(config, allow_networks=parse_networks("http=127.0.0.1/32"))
    _get(url, root, allowed)
    assert (root / "files/in/x").read_text() == "INSTANCE-CREDENTIALS"
    upload_outputs(outputs_of({"outputs": [{"path": "/out/o.txt", "url": http_server.url("put/o.txt")}]}),
                   root=root, config=allowed)
    assert (http_server.directory / "put/o.txt").read_text() == "task output"


def test_an_allowance_is_per_scheme(http_server: HttpServer, ftp_server: FtpServer, root: Path,
                                    file_store: Path) -> None:
    """ftp=127.0.0.1/32 lets ftp reach 127.0.0.1, not http; and default settings refuse the FTP server too."""
    (ftp_server.directory / "f.txt").write_text("over ftp")
    (http_server.directory / "h.txt").write_text("over http")
    config = _default(file_store)
    with watching() as seen, pytest.raises(FilerError, match=r"refused to connect to 127\.0\.0\.1 .*for ftp"):
        _get(ftp_server.url("f.txt"), root, config)
    assert seen.connects == [], "nothing connected to the FTP server"
    ftp_only = dataclasses.replace(config, allow_networks=parse_networks("ftp=127.0.0.1/32"))
    _get(ftp_server.url("f.txt"), root, ftp_only)
    assert (root / "files/in/x").read_text() == "over ftp"
    with pytest.raises(FilerError, match=r"refused to connect to 127\.0\.0\.1 .*for http"):
        _get(http_server.url("h.txt"), root / "other", ftp_only)
    assert http_server.hits("h.txt") == 0


# -- addresses never contacted ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "what"),
    [
        ("http://169.254.169.254/latest/meta-data/iam/security-credentials/", "169.254.169.254 (a link-local"),
        ("https://169.254.169.254/latest/", "169.254.169.254 (a link-local"),
        ("http://[fd00:ec2::254]/latest/meta-data/", "fd00:ec2::254 (a unique local"),
        ("http://[::ffff:169.254.169.254]/latest/", "link-local address (cloud metadata) inside"),
        ("http://[64:ff9b::a9fe:a9fe]/latest/", "link-local address (cloud metadata) inside"),
        ("http://0xa9fea9fe/latest/", "it resolves to 169.254.169.254"),
        ("http://10.0.0.1/", "10.0.0.1 (a private address)"),
        ("http://192.168.1.1:8080/", "192.168.1.1 (a private address)"),
        ("http://172.31.255.255/", "a private address"),
        ("http://100.100.100.200/latest/meta-data/", "a shared (carrier-grade NAT) address"),
        ("http://0.0.0.0:22/", "'this network'"),
        ("http://[::]/", "::"),
        ("http://[fe80::1]/", "fe80::1 (a link-local address)"),
        ("ftp://169.254.169.254/x", "169.254.169.254 (a link-local"),
        ("ftp://user:pw@10.1.2.3:2121/x", "10.1.2.3 (a private address)"),
    ],
)
def test_metadata_and_private_addresses_are_refused_without_a_packet(
    url: str, what: str, root: Path, file_store: Path
) -> None:
    """Refused before any connect: the audit hook sees no socket.connect at all."""
    with watching() as seen, pytest.raises(FilerError) as refused:
        _get(url, root, _default(file_store))
    assert "refused to connect to " in str(refused.value) and what in str(refused.value), str(refused.value)
    assert "gave up" not in str(refused.value), "a refusal is not retried"
    assert seen.connects == []


# -- redirects -------------------------------------------------------------------------------


class _Redirect(http.server.BaseHTTPRequestHandler):
    """Answers every GET with 302 to ``server.target`` and counts the requests."""

    server: Any

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's name
        pass

    def do_GET(self) -> None:
        self.server.requests += 1
        self.send_response(302)
        self.send_header("Location", self.server.target)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def redirector() -> Iterator[http.server.ThreadingHTTPServer]:
    """A real HTTP server on 127.0.0.1 (its own thread) that redirects to ``.target``."""
    server = http.server.ThreadingHTTPServer((LOOPBACK, 0), _Redirect)
    server.daemon_threads = True
    server.requests = 0  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_redirect_from_an_allowed_host_to_the_metadata_address_is_refused(
    redirector: http.server.ThreadingHTTPServer, root: Path, file_store: Path
) -> None:
    """127.0.0.1 allowed; its 302 to 169.254.169.254 is refused and only 127.0.0.1 was ever connected to."""
    redirector.target = "http://169.254.169.254/latest/meta-data/iam/security-credentials/role"  # type: ignore[attr-defined]
    config = dataclasses.replace(_default(file_store), allow_networks=parse_networks("127.0.0.1/32"))
    port = redirector.server_address[1]
    with watching() as seen, pytest.raises(FilerError) as refused:
        _get(f"http://{LOOPBACK}:{port}/start", root, config)
    assert "refused to connect to 169.254.169.254 (a link-local address (cloud metadata))" in str(refused.value)
    assert redirector.requests == 1  # type: ignore[attr-defined]
    assert {address[0] for address in seen.connects} == {LOOPBACK}


def test_a_redirect_to_a_refused_real_server_is_refused_and_an_allowed_one_followed(
    redirector: http.server.ThreadingHTTPServer, http_server: HttpServer, root: Path, file_store: Path
) -> None:
    """http=127.0.0.1 only: a 302 to https://127.0.0.1 (a real server) is refused unseen; to http:// it is followed."""
    (http_server.directory / "target.txt").write_text("followed")
    port = redirector.server_address[1]
    config = dataclasses.replace(_default(file_store), allow_networks=parse_networks("http=127.0.0.1/32"))
    redirector.target = f"https://{LOOPBACK}:{http_server.port}/target.txt"  # type: ignore[attr-defined]
    with watching() as seen, pytest.raises(FilerError, match=r"refused to connect to 127\.0\.0\.1 .*for https"):
        _get(f"http://{LOOPBACK}:{port}/start", root, config)
    assert (LOOPBACK, http_server.port) not in seen.connects
    assert http_server.hits("target.txt") == 0
    redirector.target = f"http://{LOOPBACK}:{http_server.port}/target.txt"  # type: ignore[attr-defined]
    _get(f"http://{LOOPBACK}:{port}/start", root, config)
    assert (root / "files/in/x").read_text() == "followed"


# -- the name is resolved once ----------------------------------------------------------------


def test_a_name_is_resolved_once_and_the_checked_address_is_the_one_connected(
    http_server: HttpServer, root: Path, file_store: Path
) -> None:
    """DNS rebinding: one getaddrinfo for the URL's host per connection, and the connect goes to its checked answer."""
    (http_server.directory / "n.txt").write_text("by name")
    config = dataclasses.replace(_default(file_store), allow_networks=parse_networks("127.0.0.1/32"))
    with watching() as seen:
        _get(f"http://localhost:{http_server.port}/n.txt", root, config)
    assert (root / "files/in/x").read_text() == "by name"
    assert [host for host in seen.lookups if host in ("localhost", b"localhost")] == ["localhost"]
    assert seen.connects == [(LOOPBACK, http_server.port)]


# -- S3: the endpoint is the operator's -------------------------------------------------------


def test_the_s3_endpoint_is_not_checked(s3_env: S3Server, s3_bucket: str, root: Path, file_store: Path) -> None:
    """An operator's S3 endpoint on 127.0.0.1 works with default settings: s3:// URLs name buckets, not hosts."""
    s3_env.client().put_object(Bucket=s3_bucket, Key="exempt.txt", Body=b"from s3")
    config = dataclasses.replace(_default(file_store), s3_endpoint_url=s3_env.endpoint, s3_addressing_style="path")
    _get(f"s3://{s3_bucket}/exempt.txt", root, config)
    assert (root / "files/in/x").read_text() == "from s3"


# -- the rules --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("8.8.8.8", False), ("1.1.1.1", False), ("2606:4700:4700::1111", False), ("172.32.0.1", False),
        ("127.0.0.1", True), ("127.255.255.254", True), ("10.255.0.1", True), ("172.16.0.1", True),
        ("192.168.0.1", True), ("169.254.169.254", True), ("100.64.0.1", True), ("0.0.0.0", True),
        ("224.0.0.1", True), ("255.255.255.255", True), ("::1", True), ("::", True), ("fe80::1", True),
        ("fd00:ec2::254", True), ("fc00::1", True), ("ff02::1", True), ("::ffff:127.0.0.1", True),
        ("::ffff:8.8.8.8", False), ("64:ff9b::7f00:1", True), ("2002:a9fe:a9fe::1", True), ("2002:808:808::1", False),
    ],
)
def test_which_addresses_are_refused(address: str, refused: bool) -> None:
    ip = ipaddress.ip_address(address)
    assert (dest.refusal(ip) is not None) == refused
    assert dest.refusal(ip, [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]) is None


def test_an_allowed_network_lets_only_itself_through() -> None:
    allowed = [net for _, net in parse_networks("10.1.0.0/16")]
    assert dest.refusal(ipaddress.ip_address("10.1.2.3"), allowed) is None
    assert dest.refusal(ipaddress.ip_address("::ffff:10.1.2.3"), allowed) is None
    assert dest.refusal(ipaddress.ip_address("10.2.0.1"), allowed) == "a private address"


# -- HTTPS: the guard connects, TLS still checks the URL's host name --------------------------


def _self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    """A certificate for the DNS name ``name`` (no IP address in it) and its key, as PEM files."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


class _Hello(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's name
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"hello")


def test_https_goes_through_the_guard_and_still_verifies_the_host_name(
    tmp_path: Path, root: Path, file_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real TLS server on 127.0.0.1 with a certificate for 'localhost': refused by default; allowed, fetched
    as https://localhost, and https://127.0.0.1 fails verification (the name checked is the URL's, not the address).
    """
    import ssl

    cert, key = _self_signed(tmp_path, "localhost")
    server = http.server.ThreadingHTTPServer((LOOPBACK, 0), _Hello)
    server.daemon_threads = True
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))  # requests' own variable (docs/filer.md)
    port = server.server_address[1]
    try:
        with pytest.raises(FilerError, match=r"refused to connect to localhost: it resolves to 127\.0\.0\.1"):
            _get(f"https://localhost:{port}/x", root, _default(file_store))
        config = dataclasses.replace(_default(file_store), allow_networks=parse_networks("https=127.0.0.1/32"))
        _get(f"https://localhost:{port}/x", root, config)
        assert (root / "files/in/x").read_text() == "hello"
        with pytest.raises(FilerError, match="SSLError"):
            _get(f"https://{LOOPBACK}:{port}/x", root / "ip", config)
    finally:
        server.shutdown()
        server.server_close()


def test_ftp_data_connections_go_to_the_checked_address() -> None:
    """ftplib connects PASV data connections to the control connection's peer, not to the address a 227 reply names."""
    import ftplib

    assert ftplib.FTP.trust_server_pasv_ipv4_address is False
