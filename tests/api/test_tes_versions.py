"""What differs between a TES 1.1 and a 1.2 server (tests/api/conftest.py runs each test under both).

1.2 takes fractional ``cpu_cores``; 1.1 refuses them as its document says
(integer). Both keep whole cores integers and say which version they serve.
"""

from __future__ import annotations

import pytest

from tests.api.schema import conforms
from tests.api.test_api import assert_problem, create

EXECUTORS = [{"image": "alpine", "command": ["true"]}]


def test_service_info_and_the_document_name_the_version_served(client, tes_version):
    """service-info's type.version and the served document's info.version are 1.1.0 or 1.2.0."""
    info = client.get("/service-info").json()
    assert info["type"] == {"group": "org.ga4gh", "artifact": "tes", "version": f"{tes_version}.0"}
    conforms(info, "tesServiceInfo", version=tes_version)
    assert client.get("/openapi.json").json()["info"]["version"] == f"{tes_version}.0"


@pytest.mark.parametrize("cores", [0.5, 1.25, 4.0])
def test_fractional_cores_are_a_1_2_request_and_a_1_1_refusal(client, tes_version, cores):
    """1.2 stores 0.5 cores as sent; 1.1 answers 400 naming resources.cpu_cores (4.0 is no integer either)."""
    task = {"executors": EXECUTORS, "resources": {"cpu_cores": cores, "ram_gb": 0.1, "disk_gb": 40.5}}
    if tes_version == "1.1":
        assert_problem(client.post("/tasks", json=task), 400, "is not of type 'integer'", "resources.cpu_cores")
        return
    task_id = create(client, task)
    full = client.get(f"/tasks/{task_id}", params={"view": "FULL"}).json()
    assert full["resources"] == task["resources"]
    conforms(full, "tesTask", version="1.2")


def test_whole_cores_stay_integers_on_both(client, tes_version):
    """4 cores is 4 (not 4.0) in every view of both versions: 1.1 clients such as py-tes read an integer."""
    task_id = create(client, {"executors": EXECUTORS, "resources": {"cpu_cores": 4, "ram_gb": 8}})
    resources = client.get(f"/tasks/{task_id}", params={"view": "BASIC"}).json()["resources"]
    assert resources == {"cpu_cores": 4, "ram_gb": 8.0} and type(resources["cpu_cores"]) is int  # JSON 4, not 4.0
    conforms(client.get(f"/tasks/{task_id}", params={"view": "FULL"}).json(), "tesTask", version="1.1")

