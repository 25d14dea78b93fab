"""POIESIS_TEST_DATABASE: the one setting that picks the tests' PostgreSQL, and the header line saying so."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.plugins import pg


def test_unset_means_the_embedded_server() -> None:
    """No setting (or an empty one) is the embedded server, and the header says the setting is unset."""
    assert pg.choice({}) == pg.choice({pg.SETTING: " "}) == "embedded"
    assert pg.describe({}) == f"PostgreSQL: embedded server (pgserver) in a temporary directory ({pg.SETTING}: unset)"


def test_a_dsn_is_used_as_given_and_printed_without_its_password() -> None:
    """Anything but embedded/container is a DSN; the header never shows its password."""
    dsn = "postgresql://admin:s3cret-pw@db.example.org:5432/postgres"
    assert pg.choice({pg.SETTING: dsn}) == dsn
    line = pg.describe({pg.SETTING: dsn})
    assert "s3cret-pw" not in line and "db.example.org" in line and line.endswith(f"({pg.SETTING}: a DSN)")


def test_container_uses_docker_host_else_an_existing_socket(tmp_path: Path) -> None:
    """DOCKER_HOST wins; without it, a rootless podman socket under XDG_RUNTIME_DIR is found; else none."""
    assert pg.container_socket({"DOCKER_HOST": "tcp://10.0.0.1:2375"}) == "tcp://10.0.0.1:2375"
    system = [path for path in (Path("/var/run/docker.sock"), Path("/run/podman/podman.sock")) if path.is_socket()]
    assert pg.container_socket({"XDG_RUNTIME_DIR": str(tmp_path)}) == (f"unix://{system[0]}" if system else None)
    (tmp_path / "podman").mkdir()
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(tmp_path / "podman" / "podman.sock"))
        rootless = f"unix://{tmp_path}/podman/podman.sock"
        assert pg.container_socket({"XDG_RUNTIME_DIR": str(tmp_path)}) == (f"unix://{system[0]}" if system else rootless)
    line = pg.describe({pg.SETTING: "container", "DOCKER_HOST": "unix:///run/podman/podman.sock"})
    assert "through unix:///run/podman/podman.sock" in line and line.endswith(f"({pg.SETTING}: container)")
