"""The five TES operations over HTTP, against real PostgreSQL, with no backend."""

from __future__ import annotations

import pytest

from tests.api.schema import conforms
from tests.tasks import tes_task

TASK = {
    "name": "md5",
    "description": "checksum a file",
    "inputs": [
        {"path": "/data/in.txt", "content": "hello\n"},
        {"path": "/data/ref", "url": "s3://bucket/ref", "type": "DIRECTORY"},
    ],
    "outputs": [{"path": "/data/out.txt", "url": "s3://bucket/out.txt"}],
    "resources": {"cpu_cores": 1, "ram_gb": 0.5, "disk_gb": 2.0, "preemptible": False, "zones": ["z1"]},
    "executors": [
        {"image": "alpine", "command": ["md5sum", "/data/in.txt"], "stdout": "/data/out.txt", "env": {"A": "b"}}
    ],
    "volumes": ["/scratch"],
    "tags": {"WORKFLOW_ID": "wf-1", "PROJECT": "lab"},
}


def create(client, task=None) -> str:
    response = client.post("/tasks", json=task or TASK)
    assert response.status_code == 200, response.text
    conforms(response.json(), "tesCreateTaskResponse")
    return response.json()["id"]


def assert_problem(response, status: int, *needles: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    conforms(body, "ErrorResponse")
    assert body["status"] == status
    for needle in needles:
        assert needle in body["detail"], (needle, body["detail"])


def test_created_task_is_queued_and_round_trips_in_full(client):
    """A created task is QUEUED and FULL gives back every submitted field."""
    task_id = create(client)
    full = client.get(f"/tasks/{task_id}", params={"view": "FULL"}).json()
    conforms(full, "tesTask")
    assert full["state"] == "QUEUED"
    for key in ("name", "description", "inputs", "outputs", "resources", "executors", "volumes", "tags"):
        assert full[key] == TASK[key], key


def test_views_show_exactly_what_the_spec_says(client, task_store):
    """MINIMAL is id+state; BASIC drops stdout, stderr, content, system_logs; FULL has them."""
    task_id = create(client)
    store = task_store
    store.advance(task_id, "RUNNING")
    store.add_executor_log(task_id, index=0, exit_code=0, stdout="out", stderr="err")
    store.write_terminal_state(task_id, "COMPLETE", system_logs=["done"])

    default = client.get(f"/tasks/{task_id}").json()
    conforms(default, "tesTask", minimal=True)
    assert default == {"id": task_id, "state": "COMPLETE"}
    assert client.get(f"/tasks/{task_id}", params={"view": "MINIMAL"}).json() == default

    basic = client.get(f"/tasks/{task_id}", params={"view": "BASIC"}).json()
    full = client.get(f"/tasks/{task_id}", params={"view": "FULL"}).json()
    for body in (basic, full):
        conforms(body, "tesTask")
    assert "content" not in basic["inputs"][0] and full["inputs"][0]["content"] == "hello\n"
    assert set(basic["logs"][0]["logs"][0]) == {"start_time", "end_time", "exit_code"} - (
        {"start_time", "end_time"} - set(full["logs"][0]["logs"][0])
    )
    assert full["logs"][0]["logs"][0]["stdout"] == "out" and full["logs"][0]["logs"][0]["stderr"] == "err"
    assert "system_logs" not in basic["logs"][0] and full["logs"][0]["system_logs"] == ["done"]
    assert {k: v for k, v in full.items() if k not in ("inputs", "logs")} == {
        k: v for k, v in basic.items() if k not in ("inputs", "logs")
    }


def test_large_content_input_is_kept_whole(client):
    """An inline input of 256 KiB is accepted and returned unchanged in FULL."""
    content = "x" * (256 * 1024)
    task_id = create(client, {**TASK, "inputs": [{"path": "/big.txt", "content": content}]})
    full = client.get(f"/tasks/{task_id}", params={"view": "FULL"}).json()
    assert full["inputs"][0]["content"] == content


BAD_TASKS = [
    ({"name": "no executors"}, "executors"),
    ({"executors": []}, "executors"),
    ({"executors": [{"command": ["true"]}]}, "image"),
    ({"executors": [{"image": "alpine"}]}, "command"),
    ({"executors": [{"image": "alpine", "command": []}]}, "executors[0].command"),
    ({"executors": [{"image": "alpine", "command": "true"}]}, "executors.0.command"),
    ({"executors": [{"image": "alpine", "command": ["true"], "workdir": "rel"}]}, "executors[0].workdir"),
    ({"executors": [{"image": "alpine", "command": ["true"], "stdout": "out.txt"}]}, "executors[0].stdout"),
    ({**TASK, "inputs": [{"path": "data/in", "url": "s3://b/k"}]}, "inputs[0].path"),
    ({**TASK, "inputs": [{"path": "/data/../etc/passwd", "url": "s3://b/k"}]}, "inputs[0].path"),
    ({**TASK, "inputs": [{"path": "/data/in"}]}, "inputs[0] needs a url or content"),
    ({**TASK, "inputs": [{"url": "s3://b/k"}]}, "path"),
    ({**TASK, "outputs": [{"path": "out", "url": "s3://b/o"}]}, "outputs[0].path"),
    ({**TASK, "outputs": [{"path": "/out"}]}, "url"),
    ({**TASK, "outputs": [{"path": "/out/*.txt", "url": "s3://b/o/"}]}, "outputs[0].path_prefix"),
    ({**TASK, "outputs": [{"path": "/out/*.txt", "url": "s3://b/o/", "path_prefix": "/else"}]},
     "outputs[0].path_prefix"),
    ({**TASK, "outputs": [{"path": "/out.txt", "url": "s3://b/o"}]}, "outputs[0].path /out.txt lies directly under /"),
    ({"executors": [{"image": "alpine", "command": ["true"], "stdout": "/out"}]}, "executors[0].stdout /out lies"),
    ({**TASK, "volumes": ["scratch"]}, "volumes[0]"),
    ({**TASK, "resources": {"cpu_cores": "4"}}, "resources.cpu_cores"),
    ({**TASK, "resources": {"ram_gb": "lots"}}, "resources.ram_gb"),
    ({**TASK, "tags": {"a": 1}}, "tags"),
    ({**TASK, "inputs": [{"path": "/x", "content": "c", "type": "LINK"}]}, "type"),
    ({**TASK, "resources": {"backend_parameters": {"VmSize": "big"}, "backend_parameters_strict": True}},
     "backend_parameters"),
]


@pytest.mark.parametrize(("task", "field"), BAD_TASKS, ids=[f for _, f in BAD_TASKS])
def test_bad_tasks_get_400_naming_the_field(client, task, field):
    """Every malformed task is a 400 problem document that names the offending field."""
    assert_problem(client.post("/tasks", json=task), 400, field)


def test_malformed_json_and_non_object_bodies_are_400(client):
    """A body that is not JSON, or not an object, is a 400 problem, never a 500."""
    bad = client.post("/tasks", content=b"{not json", headers={"content-type": "application/json"})
    assert_problem(bad, 400)
    assert_problem(client.post("/tasks", json=["executors"]), 400)
    assert_problem(client.post("/tasks", json="task"), 400)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"view": "EVERYTHING"}, "view"),
        ({"state": "DONE"}, "state"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": 2048}, "page_size"),
        ({"page_size": "ten"}, "page_size"),
        ({"page_token": "not-a-token"}, "page_token"),
        ({"page_token": "cDE6eA"}, "page_token"),  # our prefix, but not a number
        ({"tag_key": ["a"], "tag_value": ["1", "2"]}, "tag_value"),
    ],
)
def test_bad_list_parameters_get_400_naming_the_parameter(client, params, field):
    """ListTasks rejects out-of-range or malformed parameters with a 400 naming them."""
    assert_problem(client.get("/tasks", params=params), 400, field)


def test_unknown_view_on_get_is_400(client):
    """GetTask validates view as ListTasks does."""
    task_id = create(client)
    assert_problem(client.get(f"/tasks/{task_id}", params={"view": "ALL"}), 400, "view")


def test_unknown_ids_are_404(client):
    """GetTask and CancelTask of an unknown id are 404 problems; GET of a :cancel path too."""
    assert_problem(client.get("/tasks/nope"), 404, "nope")
    assert_problem(client.post("/tasks/nope:cancel"), 404, "nope")
    assert_problem(client.get("/tasks/abc:cancel"), 404)
    assert_problem(client.get("/no-such-path"), 404)


def test_cancel_queued_task_lands_canceled_and_repeats_harmlessly(client):
    """With no backend a cancelled task is CANCELED at once; a second cancel changes nothing."""
    task_id = create(client)
    for _ in range(2):
        response = client.post(f"/tasks/{task_id}:cancel")
        assert response.status_code == 200 and response.json() == {}
        assert client.get(f"/tasks/{task_id}").json()["state"] == "CANCELED"


def test_cancel_leaves_a_terminal_task_unchanged(client, task_store):
    """Cancelling a COMPLETE task answers 200 and it stays COMPLETE."""
    task_id = create(client)
    task_store.write_terminal_state(task_id, "COMPLETE")
    assert client.post(f"/tasks/{task_id}:cancel").status_code == 200
    assert client.get(f"/tasks/{task_id}").json()["state"] == "COMPLETE"


def test_unsupported_backend_parameters_are_dropped_with_a_warning(client):
    """Without strict, unsupported keys are neither stored nor returned, and a system log says so."""
    task = {**TASK, "resources": {"cpu_cores": 1, "backend_parameters": {"VmSize": "big"}}}
    task_id = create(client, task)
    full = client.get(f"/tasks/{task_id}", params={"view": "FULL"}).json()
    assert "backend_parameters" not in full["resources"]
    assert any("VmSize" in line for line in full["logs"][0]["system_logs"])


def test_list_filters_over_http(client):
    """name_prefix, state and repeated tag_key/tag_value select per the spec's table."""
    a = create(client, {**TASK, "name": "align-1", "tags": {"foo": "bar"}})
    b = create(client, {**TASK, "name": "align-2", "tags": {"foo": "bat", "baz": "x"}})
    c = create(client, {**TASK, "name": "call", "tags": {}})
    client.post(f"/tasks/{c}:cancel")

    def ids(**params):
        body = client.get("/tasks", params=params).json()
        for task in body["tasks"]:
            conforms(task, "tesTask", minimal=True)
            assert set(task) == {"id", "state"}
        return [t["id"] for t in body["tasks"]]

    assert ids() == [c, b, a]
    assert ids(name_prefix="align") == [b, a]
    assert ids(state="CANCELED") == [c]
    assert ids(state="UNKNOWN") == [c, b, a]
    assert ids(tag_key="foo", tag_value="bar") == [a]
    assert ids(tag_key="foo") == [b, a]
    assert ids(tag_key=["foo", "baz"], tag_value=["bat", ""]) == [b]
    assert ids(tag_key=["foo", "baz"], tag_value=["bar"]) == []


def test_list_pages_with_opaque_tokens_newest_first(client):
    """Pages of 2 walk every task once, newest first; the last page has no token."""
    created = [create(client) for _ in range(5)]
    seen, token = [], None
    while True:
        params = {"page_size": 2, "view": "BASIC", **({"page_token": token} if token else {})}
        body = client.get("/tasks", params=params).json()
        conforms(body, "tesListTasksResponse")
        seen += [t["id"] for t in body["tasks"]]
        token = body.get("next_page_token")
        if not token:
            break
    assert seen == created[::-1]


def test_default_page_size_is_256(client, task_store):
    """Without page_size a page holds 256 tasks and offers a token for the rest."""
    for _ in range(257):
        task_store.create_task(tes_task(TASK))
    body = client.get("/tasks").json()
    assert len(body["tasks"]) == 256 and body["next_page_token"]
    assert len(client.get("/tasks", params={"page_token": body["next_page_token"]}).json()["tasks"]) == 1


def test_service_info_has_required_fields_storage_and_backend_parameters(client, tes_version):
    """service-info conforms to the schema and lists storage URL prefixes and backend parameter keys."""
    body = client.get("/service-info").json()
    conforms(body, "tesServiceInfo")
    assert body["type"] == {"group": "org.ga4gh", "artifact": "tes", "version": f"{tes_version}.0"}
    assert body["storage"] == ["s3://", "http://", "https://", "ftp://"], "no file roots: no file entry"
    assert isinstance(body["tesResources_backend_parameters"], list)


def test_swagger_ui_is_served(client):
    """The Swagger UI answers under the base path."""
    assert client.get("/ui/").status_code == 200


@pytest.mark.parametrize("image", ["--volume=/:/host", "--privileged", "-v", "Alpine", "alpine:", "a b"])
def test_an_image_that_is_no_image_reference_is_refused_naming_it(client, image):
    """An image must be an OCI reference: an engine option as image is a 400 naming executors[0].image."""
    response = client.post("/tasks", json={"executors": [{"image": image, "command": ["true"]}]})
    assert_problem(response, 400, f"executors[0].image: {image!r} is not a valid image reference")
