"""py-tes 1.1.4, a strict TES client, against a real ``poiesis api`` process."""

from __future__ import annotations

import tes


def test_py_tes_creates_gets_lists_and_cancels(api_server):
    """py-tes unmarshals every view, the list and the cancel answer without error."""
    client = tes.HTTPClient(api_server, timeout=10)
    task = tes.Task(
        name="py-tes",
        inputs=[tes.Input(path="/data/in.txt", content="hello")],
        outputs=[tes.Output(path="/data/out.txt", url="s3://bucket/out.txt")],
        resources=tes.Resources(cpu_cores=1, ram_gb=1.0),
        executors=[tes.Executor(image="alpine", command=["cat", "/data/in.txt"], stdout="/data/out.txt")],
        tags={"via": "py-tes"},
    )
    task_id = client.create_task(task)

    minimal = client.get_task(task_id, view="MINIMAL")
    assert (minimal.id, minimal.state) == (task_id, "QUEUED")
    basic = client.get_task(task_id, view="BASIC")
    assert basic.inputs[0].content is None and basic.executors[0].command == ["cat", "/data/in.txt"]
    full = client.get_task(task_id, view="FULL")
    assert full.inputs[0].content == "hello" and full.tags == {"via": "py-tes"}

    listed = client.list_tasks(view="BASIC", page_size=10)
    assert [t.id for t in listed.tasks] == [task_id]
    assert client.list_tasks(view="MINIMAL").tasks[0].state == "QUEUED"

    client.cancel_task(task_id)
    assert client.get_task(task_id).state == "CANCELED"
    assert client.get_task(task_id, view="FULL").state == "CANCELED"
    info = client.get_service_info()
    assert info.type["artifact"] == "tes"  # py-tes keeps service type as a dict
