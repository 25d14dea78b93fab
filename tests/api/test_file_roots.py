"""file:// at CreateTask and in service-info: the backend's file roots, checked and advertised.

Against the real app on real PostgreSQL, with a backend reporting file roots
(tests/local/test_file_roots.py covers ``poiesis serve``'s default).
"""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from poiesis.backend import NoBackend
from poiesis.filer import FilerConfig
from tests.api.test_api import assert_problem


@pytest.fixture
def rooted_client(serve_app, tmp_path) -> TestClient:
    """The API with a backend whose filers may use file:// under tmp_path/allowed only."""
    (tmp_path / "allowed").mkdir()
    backend = NoBackend(FilerConfig(file_roots=(tmp_path / "allowed",), s3_buckets=("lab-data",)))
    return serve_app(backend=backend)


def _task(*, input_url: str | None = None, output_url: str | None = None) -> dict:
    task: dict = {"executors": [{"image": "alpine", "command": ["true"]}]}
    if input_url:
        task["inputs"] = [{"path": "/data/in", "url": input_url}]
    if output_url:
        task["outputs"] = [{"path": "/data/out", "url": output_url}]
    return task


def test_storage_lists_the_file_roots_buckets_and_network_schemes(rooted_client, tmp_path):
    """service-info storage is URL prefixes: each file root, each configured bucket, http(s), ftp."""
    storage = rooted_client.get("/service-info").json()["storage"]
    assert storage == [f"file://{(tmp_path / 'allowed').resolve()}/", "s3://lab-data/", "http://", "https://", "ftp://"]


def test_storage_has_no_file_entry_without_roots(serve_app):
    """With no file roots there is no file entry at all (a bare 'file' would claim every path)."""
    client = serve_app(backend=NoBackend(FilerConfig()))
    assert client.get("/service-info").json()["storage"] == ["s3://", "http://", "https://", "ftp://"]
    response = client.post("/tasks", json=_task(output_url="file:///tmp/out"))
    assert_problem(response, 400, "outputs[0].url file:///tmp/out", "POIESIS_FILER_FILE_ROOTS is empty")


def test_file_urls_outside_the_roots_are_refused_at_create(rooted_client, tmp_path):
    """A file:// input or output outside the roots is a 400 naming POIESIS_FILER_FILE_ROOTS; inside is fine."""
    allowed = tmp_path / "allowed"
    assert rooted_client.post("/tasks", json=_task(input_url=f"file://{allowed}/in", output_url=f"{allowed}/o")).status_code == 200
    response = rooted_client.post("/tasks", json=_task(input_url=f"file://{allowed}/in", output_url=f"file://{tmp_path}/out"))
    assert_problem(response, 400, f"outputs[0].url file://{tmp_path}/out", f"POIESIS_FILER_FILE_ROOTS={allowed}")
    response = rooted_client.post("/tasks", json=_task(input_url="/etc/passwd"))
    assert_problem(response, 400, "inputs[0].url /etc/passwd", "outside the allowed file roots")
    response = rooted_client.post("/tasks", json=_task(input_url=f"file://{allowed}/../secret"))
    assert_problem(response, 400, "inputs[0].url")
    response = rooted_client.post("/tasks", json=_task(input_url="file://otherhost/x"))
    assert_problem(response, 400, "must not name a host")
    assert rooted_client.get("/tasks").json()["tasks"].__len__() == 1, "refused tasks are never stored"


def test_a_symlink_out_of_the_roots_is_refused_at_create(rooted_client, tmp_path):
    """The check resolves symlinks as the filer does: a link inside pointing outside is refused."""
    (tmp_path / "allowed" / "escape").symlink_to(tmp_path)
    response = rooted_client.post("/tasks", json=_task(output_url=f"file://{tmp_path}/allowed/escape/out"))
    assert_problem(response, 400, "outside the allowed file roots")
