"""Toil 9.6 with toil-batch-system-tes 2.0.0 runs a three-job workflow on poiesis serve (process mode).

Two installs: py-tes 0.4.2 as pip resolves the plugin (TES 1.0: it reads
GET /tasks/service-info) and py-tes 1.1.4 (GET /service-info). Only Toil's
own settings: --batchSystem tes --tesEndpoint URL, the job store in the
directory the server was started in (its default file root), so the
plugin finds it under service-info storage.

Process mode only: each job runs Toil's appliance image (quay.io/ucsc_cgl/toil),
which cannot be pulled here, and TES gives a container the job store only
as a copied input, not a shared mount, so Toil in containers needs a shared
file system Poiesis does not offer. In process mode the executor runs
``_toil_contained_executor``, found through POIESIS_LOCAL_PATH, which names
the Toil virtualenv (the server setting such a deployment needs). The job
store lies outside /tmp: a process-mode task sees its own private /tmp.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.clients.conftest import WORKFLOWS


@pytest.fixture
def work_outside_tmp() -> Iterator[Path]:
    """A directory not under /tmp: process-mode tasks see a private /tmp, so a job store there is invisible."""
    base = Path.home() / ".cache" / "poiesis" / "clients-work"
    base.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="toil-", dir=base))
    yield work
    shutil.rmtree(work, ignore_errors=True)


@pytest.mark.parametrize("name", ["toil", "toil-pytes11"])
def test_toil_runs_a_three_job_workflow_through_tes(name, client_engine, start_serve, work_outside_tmp) -> None:
    """root -> two children -> follow-on, every job a TES task; the result file is written."""
    engine = client_engine(name)
    served = start_serve(cwd=work_outside_tmp, engine="process", env={"POIESIS_LOCAL_PATH": engine.executor_path()})
    work = served.cwd
    done = engine.run(
        [engine.python, str(WORKFLOWS / "toil_steps.py"), f"file:{work}/jobstore", str(work / "out.txt"),
         "--batchSystem", "tes", "--tesEndpoint", f"{served.url}/ga4gh/tes", "--workDir", str(work / "toil-work"),
         "--disableCaching", "--logLevel", "INFO"],
        cwd=work, mode="process", timeout=900,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
    assert done.stdout == "HELLO TOIL\n"
    assert (work / "out.txt").read_text() == "HELLO TOIL\n"
    tasks = requests.get(f"{served.tes}/tasks", params={"view": "BASIC"}, timeout=10).json()["tasks"]
    assert len(tasks) >= 3 and {t["state"] for t in tasks} == {"COMPLETE"}, "every job ran as a TES task"
    assert all(t["executors"][0]["command"][0] == "_toil_contained_executor" for t in tasks)
