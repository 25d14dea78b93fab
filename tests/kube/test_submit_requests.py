"""A submission is one request per object: the Job is created running, never resumed afterwards."""

from __future__ import annotations

from typing import Any

import pytest

from poiesis.kube.backend import KubeBackend
from poiesis.kube.settings import KubeSettings

TASK = {"executors": [{"image": "alpine:3", "command": ["true"]}]}


class RecordingKube:
    namespace = "ns"

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def create_job(self, body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("job", body))
        return {**body, "metadata": {**body["metadata"], "uid": "u-1"}}

    def create_secret(self, body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("secret", body))
        return body

    def create_pvc(self, body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("pvc", body))
        return body

    def resume_job(self, name: str) -> dict[str, Any]:
        self.calls.append(("resume", name))
        return {}


@pytest.mark.parametrize(("volume", "expected"), [("pvc", ["job", "secret", "pvc"]), ("emptyDir", ["job", "secret"])])
def test_submission_makes_each_object_once_and_no_resume(volume: str, expected: list[str]) -> None:
    kube = RecordingKube()
    backend = KubeBackend(KubeSettings(namespace="ns", transfer_volume=volume), kube=kube)  # type: ignore[arg-type]
    backend.submit("t1", TASK)
    assert [kind for kind, _ in kube.calls] == expected
    job = kube.calls[0][1]
    assert job["spec"]["suspend"] is False
    assert all(body["metadata"]["ownerReferences"][0]["uid"] == "u-1" for _, body in kube.calls[1:])
