"""A submission makes each object once: the Job is created running and never changed afterwards.

Against the real API server (KWOK cluster): a resume request after the create would bump the
Job's ``metadata.generation`` to 2, so generation 1 with ``suspend: false`` shows that none came.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from kubernetes import client

from poiesis.config.kube import KubeSettings
from poiesis.kube.backend import KubeBackend
from poiesis.kube.client import Kube
from tests.tasks import tes_task

TASK = tes_task(executors=[{"image": "alpine:3", "command": ["true"]}])


@pytest.mark.parametrize("volume", ["pvc", "emptyDir"])
def test_submission_makes_each_object_once_and_never_resumes(
    volume: str, kube_settings: KubeSettings, kube: Kube, kube_api: client.ApiClient
) -> None:
    settings = dataclasses.replace(kube_settings, transfer_volume=volume)
    KubeBackend(settings, kube).submit("t1", TASK)  # no store: created synchronously
    job = kube.get_job("poiesis-t1")
    assert job is not None
    assert job["spec"]["suspend"] is False and job["metadata"]["generation"] == 1
    core = client.CoreV1Api(kube_api)
    owned: list[Any] = [core.read_namespaced_secret("poiesis-t1", settings.namespace)]
    claims = core.list_namespaced_persistent_volume_claim(settings.namespace).items
    assert len(claims) == (1 if volume == "pvc" else 0)
    owned += claims
    assert all(o.metadata.owner_references[0].uid == job["metadata"]["uid"] for o in owned)
