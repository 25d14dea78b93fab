"""POIESIS_TEST_DATABASE=container, run for real: testcontainers starts a PostgreSQL container
through podman's Docker-compatible socket, and the store migrates and keeps a task on it.

No registry is reachable here, so the image is the one ``scripts/image postgres`` builds
(images/postgres: the pgserver wheel's PostgreSQL 16 on the project's Debian base).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from poiesis import store
from tests.plugins import pg, unavailable
from tests.tasks import tes_task

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def podman_socket(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A podman API service of our own on a temporary socket, stopped (by pid) afterwards."""
    if shutil.which("podman") is None:
        unavailable("podman is not installed (scripts/podman-setup installs it)")
    path = tmp_path_factory.mktemp("podman") / "podman.sock"
    proc = subprocess.Popen(["podman", "system", "service", "--time=0", f"unix://{path}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not path.is_socket():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"podman system service did not listen on {path} (exit {proc.poll()})")
            time.sleep(0.1)
        yield f"unix://{path}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def postgres_image() -> str:
    """The tests' PostgreSQL image, built here when missing."""
    built = subprocess.run([str(REPO / "scripts" / "image"), "postgres"], capture_output=True, text=True, timeout=900)
    if built.returncode != 0:
        unavailable(f"scripts/image postgres failed: {built.stderr[-2000:]}")
    return built.stdout.strip().splitlines()[-1]


def _containers(image_ref: str) -> list[str]:
    listed = subprocess.run(["podman", "ps", "-aq", "--filter", f"ancestor={image_ref}"],
                            capture_output=True, text=True, check=True)
    return listed.stdout.split()


def test_the_container_choice_serves_the_store_and_is_removed_afterwards(podman_socket: str, postgres_image: str) -> None:
    """A migrated database on the container keeps a task through its terminal write; the container goes at the end."""
    before = _containers(postgres_image)
    with pg.container(podman_socket, postgres_image) as url:
        with psycopg.connect(url) as conn:
            version, address = conn.execute(
                "SELECT current_setting('server_version_num')::int, inet_server_addr()"
            ).fetchone()
        assert version // 10000 == 16
        assert address is not None, "connected over the published TCP port, not a Unix socket"
        assert len(_containers(postgres_image)) == len(before) + 1
        store.migrate(url)
        pool = store.open_pool(url, max_size=2)
        try:
            task_store = store.Store(pool)
            task_id = task_store.create_task(tes_task(executors=[{"image": "busybox", "command": ["true"]}]))
            assert task_store.write_terminal_state(task_id, "COMPLETE") == "COMPLETE"
            assert task_store.get_task(task_id, view="MINIMAL") == {"id": task_id, "state": "COMPLETE"}
        finally:
            pool.close()
    assert _containers(postgres_image) == before


def test_testcontainers_is_told_how_to_reach_a_local_engine() -> None:
    """podman gets no reaper; a local socket's ports are on this host; a user's own values win."""
    assert pg.testcontainers_environ("unix:///run/podman/podman.sock", {}) == {
        "DOCKER_HOST": "unix:///run/podman/podman.sock",
        "TESTCONTAINERS_RYUK_DISABLED": "true",
        "TESTCONTAINERS_CONNECTION_MODE": "docker_host",
    }
    assert pg.testcontainers_environ("tcp://10.0.0.1:2375", {}) == {"DOCKER_HOST": "tcp://10.0.0.1:2375"}
    mine = {"TESTCONTAINERS_CONNECTION_MODE": "gateway_ip", "TESTCONTAINERS_RYUK_DISABLED": "false"}
    assert pg.testcontainers_environ("unix:///run/podman/podman.sock", mine) == {
        "DOCKER_HOST": "unix:///run/podman/podman.sock", **mine}


def test_the_image_setting_names_the_container_image() -> None:
    """POIESIS_TEST_POSTGRES_IMAGE picks the image, and the header says which."""
    assert pg.image({}) == pg.DEFAULT_IMAGE
    mine = {pg.SETTING: "container", pg.IMAGE_SETTING: "localhost/poiesis/postgres:x", "DOCKER_HOST": "unix:///s"}
    assert pg.image(mine) == "localhost/poiesis/postgres:x"
    assert pg.describe(mine).startswith("PostgreSQL: localhost/poiesis/postgres:x container (testcontainers)")
