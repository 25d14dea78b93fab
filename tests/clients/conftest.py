"""A real ``poiesis serve`` for each client, in process mode and in podman containers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.plugins.local import IMAGE, podman_mode

WORKFLOWS = Path(__file__).resolve().parent / "workflows"


@pytest.fixture(params=["process", "podman"])
def tes_mode(request: pytest.FixtureRequest) -> str:
    """Where the server runs executors; podman needs scripts/podman-setup (fails in CI without it)."""
    if request.param == "podman":
        podman_mode()
    return request.param


@pytest.fixture
def served_for_client(start_serve, tes_mode: str, tmp_path: Path, tes_version: str):
    """``poiesis serve`` with its defaults (TES ``tes_version``: 1.1 unless a test says), started where the client works."""
    return start_serve(cwd=tmp_path / "work", engine=tes_mode, env={"POIESIS_TES_VERSION": tes_version})


@pytest.fixture
def image() -> str:
    """The image executors name (used in podman mode; process mode ignores it)."""
    return IMAGE
