"""What older and looser TES clients send and ask for: nulls for unset members, TES 1.0 service-info.

Against the real app on real PostgreSQL; the bodies are shaped like the ones
pydantic-tes 0.4.0 and py-tes 0.4.2 send (tests/clients runs the clients themselves).
"""

from __future__ import annotations

import pytest

from tests.api.test_api import assert_problem, create

#: Every optional member of a task, at every depth, as null (pydantic-tes sends this).
NULLS = {
    "id": None, "state": None, "name": "nulls", "description": None, "creation_time": None, "logs": None,
    "inputs": [{"name": None, "description": None, "url": None, "path": "/data/in.txt", "type": None,
                "content": "x", "streamable": None}],
    "outputs": [{"name": None, "description": None, "url": "s3://bucket/out.txt", "path": "/data/out.txt",
                 "path_prefix": None, "type": None}],
    "resources": {"cpu_cores": None, "preemptible": None, "ram_gb": None, "disk_gb": None, "zones": None,
                  "backend_parameters": None, "backend_parameters_strict": None},
    "executors": [{"image": "alpine", "command": ["cat", "/data/in.txt"], "workdir": None, "stdin": None,
                   "stdout": None, "stderr": None, "env": None, "ignore_error": None}],
    "volumes": None,
    "tags": None,
}


def test_null_optional_members_count_as_absent_at_every_depth(client):
    """A task whose every optional member is null is accepted and stored without any of them."""
    task_id = create(client, NULLS)
    full = client.get(f"/tasks/{task_id}", params={"view": "FULL"}).json()
    assert full["state"] == "QUEUED"
    assert full["inputs"] == [{"path": "/data/in.txt", "content": "x"}]
    assert full["outputs"] == [{"path": "/data/out.txt", "url": "s3://bucket/out.txt"}]
    assert full["executors"] == [{"image": "alpine", "command": ["cat", "/data/in.txt"]}]
    assert full["resources"] == {}
    assert ": null" not in client.get(f"/tasks/{task_id}", params={"view": "FULL"}).text.replace('":null', '": null')
    assert not {"volumes", "description"} & set(full)


def test_null_members_inside_read_only_logs_count_as_absent_too(client):
    """A client echoing a task back (logs with null optional members) is accepted; logs are ignored."""
    log = {"logs": [{"exit_code": 0, "start_time": None, "end_time": None, "stdout": None, "stderr": None}],
           "outputs": [], "metadata": None, "start_time": None, "end_time": None, "system_logs": None}
    task_id = create(client, {**NULLS, "logs": [log]})
    full = client.get(f"/tasks/{task_id}", params={"view": "FULL"}).json()
    assert full["state"] == "QUEUED"
    assert not any(attempt.get("logs") for attempt in full.get("logs", [])), "the client's logs are not stored"


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"executors": None}, "'executors'"),
        ({"executors": [{"image": None, "command": ["true"]}]}, "executors.0.image"),
        ({"executors": [{"image": "alpine", "command": None}]}, "executors.0.command"),
        ({"executors": [{"image": "alpine", "command": ["echo", None]}]}, "executors.0.command.1"),
        ({"outputs": [{"path": "/data/o", "url": None}]}, "outputs.0.url"),
        ({"inputs": [{"path": None, "content": "x"}]}, "inputs.0.path"),
        ({"tags": {"a": None}}, "tags.a"),
        ({"name": 3}, "name"),
    ],
)
def test_null_where_a_value_is_required_is_still_refused(client, change, where):
    """Nulls of required members, inside arrays or as map values stay errors, as does any wrong type."""
    response = client.post("/tasks", json={**NULLS, **change})
    assert_problem(response, 400, where)


def test_tes_1_0_service_info_answers_name_doc_storage(client):
    """GET /tasks/service-info answers the TES 1.0 body (and only it); task ids still route to GetTask."""
    info = client.get("/service-info").json()
    old = client.get("/tasks/service-info")
    assert old.status_code == 200 and old.headers["content-type"] == "application/json"
    assert old.json() == {"name": info["name"], "doc": info["description"], "storage": info["storage"]}
    assert client.get("/tasks/service-info/").json() == old.json()
    assert_problem(client.get("/tasks/00000000-0000-0000-0000-000000000000"), 404, "no task")
    assert client.post("/tasks/service-info").status_code in (404, 405)
