"""pod_outcome: recorded Pod statuses sorted into what the task record should say."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from poiesis import lifecycle
from poiesis.kube.outcome import (
    Deleting,
    Ended,
    Outcome,
    Waiting,
    Working,
    deleted_outcome,
    grace_period_s,
    parse_time,
    pod_outcome,
    pod_progress,
)
from tests.kube.pods import at, done, pod, running, waiting


def _t(second: int) -> datetime:
    return datetime(2026, 1, 1, 0, second // 60, second % 60, tzinfo=UTC)


def state_of(out: Outcome) -> str | None:
    return out.end.state if isinstance(out, Ended) else None


def pending_of(out: Outcome) -> str | None:
    return out.reason if isinstance(out, Waiting) else None


def ended(out: Outcome) -> Ended:
    assert isinstance(out, Ended), out
    return out


UNSCHEDULABLE = pod(
    conditions=[
        {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.",
        }
    ],
    start_time=None,
)
UNSCHEDULABLE["status"].pop("initContainerStatuses")
UNSCHEDULABLE["status"].pop("containerStatuses")

def _past_deadline(executor_state: dict) -> dict:
    """A Pod the kubelet failed for running past its activeDeadlineSeconds (2 s), executor #0 in ``executor_state``."""
    found = pod(executors=1, phase="Failed", reason="DeadlineExceeded",
                init={"trec": running(1), "tif": done(1, 2), "executor-0": executor_state})
    found["status"]["message"] = "Pod was active on the node for longer than the specified deadline"
    found["spec"]["activeDeadlineSeconds"] = 2
    return found



CASES = {
    "pending unschedulable": (UNSCHEDULABLE, None, None, "Unschedulable: 0/1 nodes", _t(0)),
    "image pull backoff of an executor": (
        pod(init={"trec": running(1), "tif": done(1, 4), "executor-0": waiting("ImagePullBackOff", "Back-off pulling image \"nope\"")}),
        None,
        "INITIALIZING",
        "executor-0 is waiting: ImagePullBackOff: Back-off pulling image",
        _t(4),
    ),
    "tif running": (pod(init={"trec": running(1), "tif": running(2)}), None, "INITIALIZING", None, None),
    "first executor running": (
        pod(init={"trec": running(1), "tif": done(1, 2), "executor-0": running(3)}),
        None,
        "RUNNING",
        None,
        None,
    ),
    "tif failure": (
        pod(init={"trec": running(1), "tif": done(1, 2, 1, "input 0 (s3://b/k): access denied")}),
        "SYSTEM_ERROR",
        "INITIALIZING",
        None,
        None,
    ),
    "executor failure": (
        pod(init={"trec": running(1), "tif": done(1, 2), "executor-0": done(3, 5, 3)}),
        "EXECUTOR_ERROR",
        "RUNNING",
        None,
        None,
    ),
    "ignore_error goes on": (
        pod(
            init={
                "trec": running(1),
                "tif": done(1, 2),
                "executor-0": done(3, 5, 0, "poiesis-exit-code=3\n"),
                "executor-1": running(6),
            },
            phase="Pending",
        ),
        None,
        "RUNNING",
        None,
        None,
    ),
    "tof failure": (
        pod(
            init={"trec": running(1), "tif": done(1, 2), "executor-0": done(3, 4), "executor-1": done(5, 6)},
            main=done(7, 8, 1, "output 0 (ftp://h/p): connection refused"),
            phase="Running",
        ),
        "SYSTEM_ERROR",
        "RUNNING",
        None,
        None,
    ),
    "success seen by the sidecar (phase still Running)": (
        pod(
            init={"trec": running(1), "tif": done(1, 2), "executor-0": done(3, 4), "executor-1": done(5, 6)},
            main=done(7, 8),
            phase="Running",
        ),
        "COMPLETE",
        "RUNNING",
        None,
        None,
    ),
    "success after the sidecar stopped": (
        pod(
            init={"trec": done(1, 9), "tif": done(1, 2), "executor-0": done(3, 4), "executor-1": done(5, 6)},
            main=done(7, 8),
            phase="Succeeded",
        ),
        "COMPLETE",
        "RUNNING",
        None,
        None,
    ),
    "deleted mid-run (executor killed)": (
        pod(
            init={"trec": done(1, 20, 0), "tif": done(1, 2), "executor-0": done(3, 20, 137)},
            phase="Failed",
            deleted=at(50),
        ),
        "SYSTEM_ERROR",
        "RUNNING",
        None,
        None,
    ),
    "deletion in progress, executor still running": (
        pod(init={"trec": running(1), "tif": done(1, 2), "executor-0": running(3)}, deleted=at(50)),
        None,
        "RUNNING",
        None,
        None,
    ),
    "evicted": (
        pod(init={"trec": done(1, 9), "tif": done(1, 2), "executor-0": done(3, 9, 137)}, phase="Failed", reason="Evicted"),
        "SYSTEM_ERROR",
        "RUNNING",
        None,
        None,
    ),
    "past its time limit (DeadlineExceeded), the executor killed": (
        _past_deadline(done(3, 5, 137)),
        "EXECUTOR_ERROR",
        "RUNNING",
        None,
        None,
    ),
    "past its time limit (DeadlineExceeded), the executor not stopped yet": (
        _past_deadline(running(3)),
        None,
        "RUNNING",
        None,
        None,
    ),
    "preempted before any container ran": (
        pod(
            phase="Failed",
            conditions=[{"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler", "message": "by p"}],
        ),
        "PREEMPTED",
        "INITIALIZING",
        None,
        None,
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_pod_outcome_table(name: str) -> None:
    """Each recorded Pod maps to the terminal state, progress and pending reason in the docs table."""
    pod_, state, progress, pending, since = CASES[name]
    out = pod_outcome(pod_)
    assert state_of(out) == state
    found = pod_progress(pod_)
    assert (found.state if found else None) == progress
    if state is None:
        assert getattr(out, "progress", None) == found
    if pending is None:
        assert pending_of(out) is None
    else:
        assert isinstance(out, Waiting) and out.reason.startswith(pending)
        assert out.since == since


def test_running_pod_is_not_pending() -> None:
    """A Pod whose executor runs is not waiting."""
    out = pod_outcome(CASES["first executor running"][0])
    assert isinstance(out, Working)


def test_executor_results_use_the_wrapper_exit_code() -> None:
    """ignore_error: the container exits 0 but the executor log gets the real code from the message."""
    progress = pod_outcome(CASES["ignore_error goes on"][0]).progress
    assert [(r.index, r.exit_code) for r in progress.executors] == [(0, 3)]
    assert progress.executors[0].start_time == _t(3) and progress.executors[0].end_time == _t(5)


def test_executor_failure_records_code_times_and_the_local_backends_line() -> None:
    """A failing executor ends the task EXECUTOR_ERROR at its finish time, saying so as the local backend does."""
    out = ended(pod_outcome(CASES["executor failure"][0]))
    assert out.executors[0].exit_code == 3
    assert (out.start_time, out.end_time) == (_t(3), _t(5))
    assert out.end.lines == ("executor #0 exited with code 3",)


def test_task_times_come_from_the_containers() -> None:
    """The task starts when the first executor container started (running or ended) and ends at tof's finish."""
    assert pod_outcome(CASES["first executor running"][0]).progress.start_time == _t(3)
    assert not hasattr(pod_outcome(CASES["tif running"][0]).progress, "start_time")  # INITIALIZING: no start
    done_ = ended(pod_outcome(CASES["success seen by the sidecar (phase still Running)"][0]))
    assert (done_.start_time, done_.end_time) == (_t(3), _t(8))


def test_a_sidecar_that_has_not_passed_its_startup_probe_is_what_the_pod_waits_for() -> None:
    """trec running but not started (probe failing): the pending reason names it, not tif."""
    stuck = pod(init={"trec": running(1)})
    stuck["status"]["initContainerStatuses"][0]["started"] = False
    out = pod_outcome(stuck)
    assert pending_of(out) == "trec is running but has not passed its startup probe"
    assert out.since == _t(0)
    stuck["status"]["initContainerStatuses"][0]["started"] = True
    assert pending_of(pod_outcome(stuck)).startswith("tif is waiting: PodInitializing")


def test_grace_period_from_the_pod() -> None:
    """The deletion's grace while deleting, else terminationGracePeriodSeconds, else the kubelet's 30 s."""
    p = pod()
    assert grace_period_s(p) == 30
    p["spec"]["terminationGracePeriodSeconds"] = 45
    assert grace_period_s(p) == 45
    deleting = pod(deleted=at(50))
    deleting["metadata"]["deletionGracePeriodSeconds"] = 5
    assert grace_period_s(deleting) == 5


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("tif failure", "input filer failed: input 0 (s3://b/k): access denied"),
        ("tof failure", "output filer failed: output 0"),
    ],
)
def test_filer_failures_carry_the_termination_message(name: str, needle: str) -> None:
    """A failing filer's termination message (its reason, exit 1) becomes the system log line."""
    out = ended(pod_outcome(CASES[name][0]))
    assert len(out.end.lines) == 1 and needle in out.end.lines[0]


def test_a_filer_that_did_not_fail_by_itself_says_how_it_ended() -> None:
    """Killed (137, OOMKilled) or exited 1 without a reason: the exit code and the kubelet's reason."""
    killed = pod(init={"trec": running(1), "tif": done(1, 2, 137)})
    killed["status"]["initContainerStatuses"][1]["state"]["terminated"]["reason"] = "OOMKilled"
    assert ended(pod_outcome(killed)).end.lines == ("input filer failed: exited with code 137: OOMKilled",)
    silent = pod(init={"trec": running(1), "tif": done(1, 2, 1)})
    assert ended(pod_outcome(silent)).end.lines[0].startswith("input filer failed: exited with code 1: ")


def test_eviction_is_a_system_error() -> None:
    """An evicted Pod ends SYSTEM_ERROR naming the eviction, even though its executor died with 137."""
    out = ended(pod_outcome(CASES["evicted"][0]))
    assert out.end.lines == ("the Pod failed: Evicted",)


def test_success_reads_outputs() -> None:
    """tof exiting 0 completes the task at tof's finish time (COMPLETE: the recorder reads outputs.json)."""
    out = ended(pod_outcome(CASES["success seen by the sidecar (phase still Running)"][0]))
    assert out.end == lifecycle.completed() and out.end_time == _t(8)
    assert [r.index for r in out.executors] == [0, 1]


def test_deleted_pod_is_not_an_executor_error() -> None:
    """An executor killed because the Pod was deleted is recorded (137) but the task ends SYSTEM_ERROR."""
    out = ended(pod_outcome(CASES["deleted mid-run (executor killed)"][0]))
    assert out.executors[0].exit_code == 137
    assert out.end.lines == ("the task's Pod was deleted before the task finished",)
    assert out.end == lifecycle.pod_deleted()


def test_deleted_outcome_keeps_a_real_verdict() -> None:
    """A vanished Pod that had already failed keeps its own verdict; an unfinished one is SYSTEM_ERROR."""
    assert deleted_outcome(CASES["executor failure"][0]).end.state == "EXECUTOR_ERROR"
    gone = deleted_outcome(CASES["first executor running"][0])
    assert gone.end == lifecycle.pod_deleted() and gone.start_time == _t(3)
    assert deleted_outcome(None).end == lifecycle.pod_deleted()
    assert isinstance(pod_outcome(CASES["deletion in progress, executor still running"][0]), Deleting)


def test_parse_time() -> None:
    """API server times parse as UTC."""
    assert parse_time("2026-01-01T00:00:05Z") == _t(5)
    assert parse_time(None) is None


RECORDED = Path(__file__).parent / "recorded"


def test_recorded_pod_gives_complete_with_its_container_times() -> None:
    """A Pod as the API server returned it (KWOK node, tests/kube/recorded): COMPLETE, start at executor-0, end at tof."""
    recorded = json.loads((RECORDED / "pod_succeeded_kwok.json").read_text())
    statuses = {s["name"]: s["state"] for s in recorded["status"]["initContainerStatuses"] + recorded["status"]["containerStatuses"]}
    out = ended(pod_outcome(recorded))
    assert out.end.state == "COMPLETE" and out.end.lines == ()
    assert out.start_time == parse_time(statuses["executor-0"]["terminated"]["startedAt"])
    assert out.end_time == parse_time(statuses["tof"]["terminated"]["finishedAt"])
    assert [(r.index, r.exit_code) for r in out.executors] == [(0, 0), (1, 0)]
    assert all(r.start_time <= r.end_time for r in out.executors)
    assert grace_period_s(recorded) == 30


def test_a_deletion_whose_grace_was_shortened_still_killed_the_executor() -> None:
    """The final delete (grace 0) moves deletionTimestamp: an executor killed by the first delete is still SYSTEM_ERROR.

    Seen on KWOK in CI: the Job's Pod deleted by the garbage collector (grace 30) at second 20,
    the executor killed then, and the last view of the Pod carrying the final delete's
    deletionTimestamp (second 25) and deletionGracePeriodSeconds 0.
    """
    shortened = pod(init={"trec": done(1, 20, 0), "tif": done(1, 2), "executor-0": done(3, 20, 137)},
                    phase="Failed", deleted=at(25))
    shortened["metadata"]["deletionGracePeriodSeconds"] = 0
    out = ended(pod_outcome(shortened))
    assert out.end.state == "SYSTEM_ERROR" and any("deleted" in line for line in out.end.lines), out
    failed_before = pod(init={"trec": done(1, 100, 0), "tif": done(1, 2), "executor-0": done(3, 10, 2)},
                        phase="Failed", deleted=at(100))  # ended by itself 90 s before any delete began
    failed_before["metadata"]["deletionGracePeriodSeconds"] = 0
    assert state_of(pod_outcome(failed_before)) == "EXECUTOR_ERROR"


def test_a_pod_past_its_deadline_ends_when_nothing_runs_saying_the_time_limit() -> None:
    """DeadlineExceeded: not ended while the executor still runs; then EXECUTOR_ERROR with the limit's line,
    the killed executor (137) recorded, not an executor failure nor a Pod failure."""
    assert not isinstance(pod_outcome(_past_deadline(running(3))), Ended)
    out = ended(pod_outcome(_past_deadline(done(3, 5, 137))))
    assert out.end == lifecycle.time_limit_reached(2)
    assert out.end.state == "EXECUTOR_ERROR"
    assert out.end.lines == ("the task reached its time limit of 2s and was stopped",)
    assert [(r.index, r.exit_code) for r in out.executors] == [(0, 137)]
