"""Pytest plugin: a real Kubernetes control plane (scripts/cluster) for tests that need one.

The session fixture `kube_cluster` brings the cluster up once per run (reusing one
that is already up) and hands tests a kubernetes ApiClient configured from its
kubeconfig. Tests that use it are marked `kube` automatically, so `-m "not kube"`
deselects them. With CI=true a missing build or a failed start fails the run; locally
the tests are skipped with a message saying how to build the cluster.

This plugin does not build the binaries (a cold build takes ~20 minutes: run
`scripts/cluster build` once), and it stops only a cluster it started itself
(unless POIESIS_CLUSTER_KEEP=1).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

from tests.plugins import unavailable

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "cluster"
UP_TIMEOUT_S = 300


@dataclasses.dataclass(frozen=True)
class Cluster:
    """The running test cluster: kubeconfig, API client, etcd client URL, the namespace Poiesis uses."""

    kubeconfig: Path
    api: client.ApiClient
    etcd_url: str
    namespace: str = "poiesis"
    node: str = "kwok-node-0"


def _status() -> dict:
    proc = subprocess.run([str(SCRIPT), "status", "--json"], capture_output=True, text=True, timeout=60, check=False)
    return json.loads(proc.stdout)


def _up() -> Path:
    proc = subprocess.run([str(SCRIPT), "up"], capture_output=True, text=True, timeout=UP_TIMEOUT_S, check=False)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        unavailable(f"`scripts/cluster up` failed (exit {proc.returncode}):\n{tail}")
    return Path(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def kube_cluster() -> Iterator[Cluster]:
    """A running cluster for the whole session, started here only if not already up."""
    status = _status()
    if not status["built"]:
        unavailable(
            f"Kubernetes test binaries are not built ({status['bin_dir']}): "
            "run `scripts/cluster build` once (about 20 minutes cold), then rerun"
        )
    started_here = not status["up"]
    kubeconfig = _up()
    api = config.new_client_from_config(config_file=str(kubeconfig))
    try:
        etcd_url = f"http://127.0.0.1:{status['ports']['etcd']}"
        yield Cluster(kubeconfig=kubeconfig, api=api, etcd_url=etcd_url)
    finally:
        api.close()
        if started_here and os.environ.get("POIESIS_CLUSTER_KEEP") != "1":
            subprocess.run([str(SCRIPT), "down"], capture_output=True, timeout=120, check=False)
            left = subprocess.run([str(SCRIPT), "leftovers"], capture_output=True, text=True, timeout=60, check=False)
            assert left.returncode == 0, f"`scripts/cluster down` left the real node behind:\n{left.stdout}"


@pytest.fixture
def kube_api(kube_cluster: Cluster) -> client.ApiClient:
    """The session's kubernetes ApiClient (admin of the test cluster)."""
    return kube_cluster.api


@pytest.fixture
def kubeconfig(kube_cluster: Cluster) -> Path:
    """Path of the test cluster's admin kubeconfig."""
    return kube_cluster.kubeconfig


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "kube_cluster" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.kube)


def etcd_call(cluster: Cluster, path: str, body: dict) -> dict:
    """POST to etcd's JSON gateway on 127.0.0.1 (no proxy)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(cluster.etcd_url + path, data=json.dumps(body).encode(), method="POST")
    with opener.open(request, timeout=10) as response:
        return json.loads(response.read())


def compact_etcd(cluster: Cluster) -> int:
    """Compact etcd up to its current revision, as the API server's periodic compaction does."""
    revision = int(etcd_call(cluster, "/v3/kv/range", {"key": "AA=="})["header"]["revision"])
    etcd_call(cluster, "/v3/kv/compaction", {"revision": str(revision), "physical": True})
    return revision
