"""A real ``poiesis api`` process on 127.0.0.1: settings reach every worker, uvicorn-level limits hold."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import requests

from tests.plugins.api import clean_env as _env
from tests.plugins.auth import basic
from tests.plugins.servers import free_port

BASE = "/ga4gh/tes/v1"


def _exit_output(proc: subprocess.Popen, tmp_path: Path, timeout: float = 60) -> str:
    proc.wait(timeout=timeout)
    return "".join(p.read_text() for p in tmp_path.glob("api-*.log"))


def test_non_loopback_without_auth_is_refused(start_api, tmp_path: Path, db_url: str) -> None:
    """--host 0.0.0.0 without POIESIS_AUTH exits with a message, whatever the environment's host says."""
    _, proc = start_api("--host", "0.0.0.0", env=_env(POIESIS_DATABASE_URL=db_url, POIESIS_HOST="127.0.0.1"),
                        wait=False)
    assert "without authentication" in _exit_output(proc, tmp_path)
    assert proc.returncode != 0


def test_the_flag_host_reaches_the_worker_local_backend_check(
    start_api, tmp_path: Path, db_url: str, password_file: Path
) -> None:
    """The local backend in process mode sees --host 0.0.0.0 (not the environment's 127.0.0.1) and refuses it."""
    env = _env(POIESIS_DATABASE_URL=db_url, POIESIS_HOST="127.0.0.1", POIESIS_BACKEND="local",
               POIESIS_LOCAL_ENGINE="process", POIESIS_LOCAL_WORK_DIR=str(tmp_path / "work"),
               POIESIS_AUTH="basic", POIESIS_AUTH_BASIC_FILE=str(password_file))
    _, proc = start_api("--host", "0.0.0.0", env=env, wait=False)
    assert "POIESIS_LOCAL_ALLOW_UNISOLATED" in _exit_output(proc, tmp_path)
    assert proc.returncode != 0


def test_every_worker_applies_the_same_auth(start_api, db_url: str, password_file: Path) -> None:
    """Two workers: every fresh connection needs credentials and accepts the right ones."""
    url, _ = start_api("--workers", "2", env=_env(POIESIS_DATABASE_URL=db_url, POIESIS_AUTH="basic",
                                                  POIESIS_AUTH_BASIC_FILE=str(password_file)))
    for _ in range(8):
        with requests.Session() as session:
            response = session.get(f"{url}{BASE}/tasks", timeout=10)
            assert response.status_code == 401 and "Basic" in response.headers["www-authenticate"]
        assert requests.get(f"{url}{BASE}/tasks", headers=basic("alice"), timeout=10).status_code == 200


def test_slow_headers_and_idle_connections_are_closed(start_api, db_url: str) -> None:
    """Headers unfinished after header_timeout, and idle keep-alive connections, are closed by the server."""
    url, _ = start_api(env=_env(POIESIS_DATABASE_URL=db_url, POIESIS_LIMIT_HEADER_TIMEOUT="1",
                                POIESIS_LIMIT_IDLE_TIMEOUT="1"))
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /ga4gh/tes/v1/service-info HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.monotonic()
        for _ in range(3):  # trickling more header bytes does not extend the deadline
            time.sleep(0.3)
            sock.sendall(b"X-Slow: 1\r\n")
        assert sock.recv(1024) == b""
        assert time.monotonic() - started < 5
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /ga4gh/tes/v1/service-info HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        data = b""
        started = time.monotonic()
        while chunk := sock.recv(65536):
            data += chunk
        assert data.startswith(b"HTTP/1.1 200") and time.monotonic() - started < 5


def test_a_megabyte_url_is_a_json_400(start_api, db_url: str) -> None:
    """A request line beyond header_bytes is answered 400 as problem+json, not uvicorn's text/plain."""
    url, _ = start_api(env=_env(POIESIS_DATABASE_URL=db_url))
    response = requests.get(f"{url}{BASE}/tasks/{'a' * (1 << 20)}", timeout=30)
    assert response.status_code in (400, 414)
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == response.status_code


def test_headers_beyond_header_bytes_are_a_json_400(start_api, db_url: str) -> None:
    """Headers that together pass header_bytes (each one small) are refused with a problem document."""
    url, _ = start_api(env=_env(POIESIS_DATABASE_URL=db_url, POIESIS_LIMIT_HEADER_BYTES="4096"))
    headers = {f"X-Filler-{i}": "f" * 200 for i in range(40)}
    response = requests.get(f"{url}{BASE}/service-info", headers=headers, timeout=30)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert "header_bytes" in response.json()["detail"]
    assert requests.get(f"{url}{BASE}/service-info", timeout=10).status_code == 200


def test_a_database_down_at_start_gives_503_not_an_exit(start_api, tmp_path: Path) -> None:
    """poiesis api with an unreachable database starts and answers 503 problems."""
    dead = f"postgresql://nobody@127.0.0.1:{free_port()}/nothing?connect_timeout=1"
    url, proc = start_api(env=_env(POIESIS_DATABASE_URL=dead, POIESIS_DB_TIMEOUT="1"))
    response = requests.get(f"{url}{BASE}/tasks", timeout=30)
    assert response.status_code == 503 and response.json()["status"] == 503
    assert requests.get(f"{url}{BASE}/service-info", timeout=10).status_code == 200
    assert proc.poll() is None


def test_public_paths_read_no_body(start_api, db_url: str, password_file: Path) -> None:
    """Without credentials, a body sent to a public path is refused unread; an empty POST still gets its 405."""
    url, _ = start_api(env=_env(POIESIS_DATABASE_URL=db_url, POIESIS_AUTH="basic",
                                POIESIS_AUTH_BASIC_FILE=str(password_file)))
    for path in (f"{BASE}/service-info", "/healthz", f"{BASE}/ui/"):
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            # announces 4 MiB and sends none of it: the answer comes at once, nothing is awaited
            sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {4 * 1024 * 1024}\r\n\r\n".encode())
            head = _response(sock)
        assert head.startswith(b"HTTP/1.1 400"), (path, head[:200])
        assert b"takes no request body" in head and b"application/problem+json" in head
    assert requests.post(f"{url}{BASE}/service-info", timeout=10).status_code == 405


def _response(sock: socket.socket) -> bytes:
    """One whole response (headers and a Content-Length body) from ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def test_a_body_that_does_not_arrive_in_time_is_a_408(start_api, db_url: str) -> None:
    """A client that sends its headers and then trickles the body is answered 408 after body_timeout, and dropped."""
    url, _ = start_api(env=_env(POIESIS_DATABASE_URL=db_url, POIESIS_LIMIT_BODY_TIMEOUT="1"))
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"POST {BASE}/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     "Content-Length: 1000\r\n\r\n{".encode())
        started = time.monotonic()
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        assert time.monotonic() - started < 5
    assert data.startswith(b"HTTP/1.1 408"), data[:200]
    assert b"body_timeout" in data


def test_connections_beyond_the_concurrency_limit_get_503(start_api, db_url: str) -> None:
    """With POIESIS_LIMIT_CONCURRENCY=2, a third connection's request is answered 503 while two are open."""
    url, _ = start_api(env=_env(POIESIS_DATABASE_URL=db_url, POIESIS_LIMIT_CONCURRENCY="2",
                                POIESIS_LIMIT_IDLE_TIMEOUT="30"))
    port = int(url.rsplit(":", 1)[1])
    held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(2)]
    try:
        time.sleep(0.5)
        assert requests.get(f"{url}{BASE}/service-info", timeout=10).status_code == 503
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 10
    while requests.get(f"{url}{BASE}/service-info", timeout=10).status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.2)
