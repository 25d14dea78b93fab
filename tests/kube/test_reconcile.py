"""TCtl's decisions from snapshots (no cluster, no database): what it does for each kind of task."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from poiesis.kube.outcome import Ended
from poiesis.tctl.reconcile import DeleteJob, Dirty, Outcomes, Record, Resubmit, Snapshot, create_failures, decide
from tests.kube.pods import done, pod, running, waiting

T0 = datetime(2026, 1, 1, tzinfo=UTC)
OLD = T0 - timedelta(hours=1)


def snap(now_s: float = 0, *, tasks, pods=None, gone=None, jobs=None, failures=None) -> Snapshot:
    return Snapshot(now=T0 + timedelta(seconds=now_s), tasks=tasks, pods=pods or {}, gone=gone or {}, jobs=jobs,
                    pending_timeout_s=300, queued_grace_s=120, create_failures=failures or {})


COMPLETE_POD = pod(executors=1, init={"trec": done(1, 9), "tif": done(1, 2), "executor-0": done(3, 4)}, main=done(5, 6), phase="Succeeded")
RUNNING_POD = pod(executors=1, init={"trec": running(1), "tif": done(1, 2), "executor-0": running(3)})
TREC_DOWN_POD = pod(executors=1, init={"trec": waiting("CrashLoopBackOff", "back-off"), "tif": done(1, 2),
                                      "executor-0": running(3)})
STUCK_POD = pod(executors=1, init={"trec": running(1), "tif": waiting("ImagePullBackOff", "no such image")})


DEADLINE_JOB = {"spec": {}, "status": {"conditions": [
    {"type": "Failed", "status": "True", "reason": "DeadlineExceeded", "message": "Job was active longer than specified deadline"}]}}
RUNNING_JOB = {"metadata": {"uid": "u-2"}, "spec": {"suspend": False}, "status": {}}
REFUSED = 'Error creating: pods "poiesis-t-" is forbidden: no PriorityClass with name nope was found'


def actions_line(actions) -> str:
    return actions[0].outcome.end.lines[0]


def state_of(action) -> str | None:
    outcome = getattr(action, "outcome", None)
    return outcome.end.state if isinstance(outcome, Ended) else None


def kinds(actions):
    return [(type(a).__name__, a.task_id, state_of(a)) for a in actions]


def test_ended_pod_is_recorded() -> None:
    """A Succeeded Pod of an active task: record COMPLETE with its executor logs."""
    actions = decide(snap(tasks={"t": ("RUNNING", OLD)}, pods={"t": COMPLETE_POD}))
    assert kinds(actions) == [("Record", "t", "COMPLETE")]
    assert [r.exit_code for r in actions[0].outcome.executors] == [0]


def test_terminal_tasks_are_left_alone() -> None:
    """Pods of tasks the database no longer lists as active produce no action."""
    assert decide(snap(tasks={}, pods={"t": COMPLETE_POD}, gone={"u": None}, jobs={})) == []


def test_running_pod_is_recorded_as_progress_when_trec_is_not_running() -> None:
    """A running Pod whose TRec is down (restarting): TCtl records progress (RUNNING), nothing terminal, nothing deleted."""
    actions = decide(snap(tasks={"t": ("QUEUED", OLD)}, pods={"t": TREC_DOWN_POD}))
    assert kinds(actions) == [("Record", "t", None)] and actions[0].outcome.progress.state == "RUNNING"


def test_a_pod_with_a_live_trec_is_left_to_trec() -> None:
    """While TRec runs and the Pod has not ended, TCtl writes nothing, not even an end TRec has yet to record."""
    ended_but_trec_up = pod(executors=1, init={"trec": running(1), "tif": done(1, 2), "executor-0": done(3, 4)},
                            main=done(5, 6))
    assert decide(snap(tasks={"t": ("QUEUED", OLD)}, pods={"t": RUNNING_POD})) == []
    assert decide(snap(tasks={"t": ("RUNNING", OLD)}, pods={"t": ended_but_trec_up})) == []


def test_pending_past_the_timeout_fails_and_deletes() -> None:
    """Waiting longer than the timeout (since tif should have started): SYSTEM_ERROR with the reason, Job deleted."""
    # STUCK_POD waits since its startTime, 2026-01-01T00:00:00Z
    # before the timeout the Pod is TRec's (it runs); after it, TCtl ends the task even though TRec runs
    assert decide(snap(299, tasks={"t": ("INITIALIZING", OLD)}, pods={"t": STUCK_POD})) == []
    actions = decide(snap(301, tasks={"t": ("INITIALIZING", OLD)}, pods={"t": STUCK_POD}))
    assert kinds(actions) == [("Record", "t", "SYSTEM_ERROR"), ("DeleteJob", "t", None)]
    assert "tif is waiting: ImagePullBackOff: no such image" in actions_line(actions)


def test_a_later_executor_stuck_keeps_the_tasks_start() -> None:
    """executor-1 cannot pull its image after executor-0 ran: the timeout end carries the task's container start."""
    stuck = pod(init={"trec": running(1), "tif": done(1, 2), "executor-0": done(3, 4), "executor-1": waiting("ImagePullBackOff")})
    actions = decide(snap(310, tasks={"t": ("RUNNING", OLD)}, pods={"t": stuck}))  # waits since executor-0 ended (4 s)
    assert kinds(actions) == [("Record", "t", "SYSTEM_ERROR"), ("DeleteJob", "t", None)]
    assert actions[0].outcome.start_time == T0 + timedelta(seconds=3)
    assert [r.index for r in actions[0].outcome.executors] == [0]


def test_canceling_task_with_a_live_pod_gets_its_job_deleted() -> None:
    """CANCELING whose Pod runs undisturbed: delete the Job again (the API's delete may have failed)."""
    actions = decide(snap(tasks={"t": ("CANCELING", OLD)}, pods={"t": RUNNING_POD}))
    assert DeleteJob("t") in actions


def test_deleted_pod_ends_the_task() -> None:
    """A Pod seen deleted before it ended: SYSTEM_ERROR (the store turns CANCELING into CANCELED)."""
    actions = decide(snap(tasks={"t": ("CANCELING", OLD)}, gone={"t": RUNNING_POD}))
    assert kinds(actions) == [("Record", "t", "SYSTEM_ERROR")]
    assert actions[0].outcome.executors == ()


def test_deleted_pod_keeps_its_own_verdict() -> None:
    """A Pod deleted after it completed (TTL) still records COMPLETE."""
    assert kinds(decide(snap(tasks={"t": ("RUNNING", OLD)}, gone={"t": COMPLETE_POD}))) == [("Record", "t", "COMPLETE")]


def test_queued_without_job_is_resubmitted_after_the_grace() -> None:
    """QUEUED, no Pod, no Job: nothing within the grace period, resubmitted after it."""
    young = T0 - timedelta(seconds=60)
    assert decide(snap(tasks={"t": ("QUEUED", young)}, jobs={})) == []
    assert decide(snap(tasks={"t": ("QUEUED", OLD)}, jobs={})) == [Resubmit("t")]


def test_no_decision_without_a_job_listing() -> None:
    """Between resyncs (no Job list) a Pod-less task is not judged."""
    assert decide(snap(tasks={"t": ("QUEUED", OLD)}, jobs=None)) == []


def test_running_task_whose_job_vanished() -> None:
    """RUNNING with neither Job nor Pod: SYSTEM_ERROR saying so; CANCELING: CANCELED."""
    actions = decide(snap(tasks={"r": ("RUNNING", OLD), "c": ("CANCELING", OLD)}, jobs={}))
    assert kinds(actions) == [("Record", "r", "SYSTEM_ERROR"), ("Record", "c", "CANCELED")]
    assert actions[0].outcome.end.lines == ("the task's Job and Pod are gone",)


def test_suspended_job_left_by_a_dead_submission_is_resubmitted() -> None:
    """A Job still suspended after the grace (made by an older version that died mid-submit) is submitted again."""
    job = {"spec": {"suspend": True}, "status": {}}
    assert decide(snap(tasks={"t": ("QUEUED", OLD)}, jobs={"t": job})) == [Resubmit("t")]


def test_job_without_pod_for_too_long() -> None:
    """A running Job that made no Pod within the pending timeout: SYSTEM_ERROR and delete it."""
    job = {"spec": {"suspend": False}, "status": {}}
    assert [type(a) for a in decide(snap(tasks={"t": ("QUEUED", OLD)}, jobs={"t": job}))] == [Record, DeleteJob]
    finished = {"spec": {}, "status": {"conditions": [{"type": "Failed", "status": "True"}]}}
    assert kinds(decide(snap(tasks={"t": ("RUNNING", OLD)}, jobs={"t": finished}))) == [("Record", "t", "SYSTEM_ERROR")]

    # a Job that failed without a Pod says why (activeDeadlineSeconds here)
    assert actions_line(decide(snap(tasks={"t": ("RUNNING", OLD)}, jobs={"t": DEADLINE_JOB}))) == (
        "the task's Job ended without a Pod: DeadlineExceeded: Job was active longer than specified deadline"
    )


def _event(uid: str, message: str, when: str, reason: str = "FailedCreate") -> dict:
    return {"reason": reason, "message": message, "lastTimestamp": when,
            "involvedObject": {"kind": "Job", "uid": uid, "name": "poiesis-t"}}


def test_failed_create_events_are_matched_to_the_current_job() -> None:
    """The latest FailedCreate of the Job with that uid; events of an older Job of the same name, or other reasons, are ignored."""
    events = [_event("u-1", "old job", "2026-01-01T00:00:09Z"), _event("u-2", "first", "2026-01-01T00:00:01Z"),
              _event("u-2", REFUSED, "2026-01-01T00:00:05Z"), _event("u-2", "x", "2026-01-01T00:00:07Z", reason="SuccessfulCreate")]
    assert create_failures({"t": RUNNING_JOB}, events) == {"t": REFUSED}


def test_a_refused_pod_ends_the_task_at_once() -> None:
    """FailedCreate (an admission refusal): SYSTEM_ERROR with the message and the Job deleted, even within the grace period."""
    young = T0 - timedelta(seconds=5)
    actions = decide(snap(tasks={"t": ("QUEUED", young)}, jobs={"t": RUNNING_JOB}, failures={"t": REFUSED}))
    assert kinds(actions) == [("Record", "t", "SYSTEM_ERROR"), ("DeleteJob", "t", None)]
    assert actions_line(actions) == f"the task's Job could not create its Pod: {REFUSED}"


def test_a_quota_refusal_waits_for_the_pending_timeout_and_says_why() -> None:
    """exceeded quota may clear: nothing at once; at the pending timeout the line carries the reason."""
    quota = 'Error creating: pods "poiesis-t-" is forbidden: exceeded quota: q, requested: pods=1, used: pods=5, limited: pods=5'
    young = T0 - timedelta(seconds=5)
    assert decide(snap(tasks={"t": ("QUEUED", young)}, jobs={"t": RUNNING_JOB}, failures={"t": quota})) == []
    actions = decide(snap(tasks={"t": ("QUEUED", OLD)}, jobs={"t": RUNNING_JOB}, failures={"t": quota}))
    assert kinds(actions) == [("Record", "t", "SYSTEM_ERROR"), ("DeleteJob", "t", None)]
    assert actions_line(actions).startswith("the task's Job made no Pod within 300s: Error creating")
    assert "exceeded quota" in actions_line(actions)


def test_a_refusal_does_not_touch_a_cancel_or_a_suspended_job() -> None:
    """CANCELING keeps its cancel path; a suspended Job (submission in progress) is not judged by old events."""
    young = T0 - timedelta(seconds=5)
    assert decide(snap(tasks={"t": ("CANCELING", young)}, jobs={"t": RUNNING_JOB}, failures={"t": REFUSED})) == []
    suspended = {**RUNNING_JOB, "spec": {"suspend": True}}
    assert decide(snap(tasks={"t": ("QUEUED", young)}, jobs={"t": suspended}, failures={"t": REFUSED})) == []


def test_a_recorded_refusal_from_the_real_control_plane() -> None:
    """The Job and FailedCreate event the API server and Job controller wrote for a nonexistent PriorityClass."""
    recorded = json.loads((Path(__file__).parent / "recorded" / "job_refused_priority_class.json").read_text())
    job, task_id = recorded["job"], recorded["job"]["metadata"]["labels"]["poiesis.io/task"]
    failures = create_failures({task_id: job}, recorded["events"])
    assert "no PriorityClass with name no-such-class was found" in failures[task_id]
    young = T0 - timedelta(seconds=5)
    actions = decide(snap(tasks={task_id: ("QUEUED", young)}, jobs={task_id: job}, failures=failures))
    assert kinds(actions) == [("Record", task_id, "SYSTEM_ERROR"), ("DeleteJob", task_id, None)]


def test_queued_task_with_a_running_job_is_resubmitted_once_after_the_grace() -> None:
    """A QUEUED task whose Job runs (its Secret or PVC may be missing) is resubmitted after the grace, once."""
    job = {"spec": {"suspend": False}, "status": {}}
    assert decide(snap(tasks={"t": ("QUEUED", T0)}, jobs={"t": job})) == []
    assert decide(snap(tasks={"t": ("QUEUED", T0 - timedelta(seconds=200))}, jobs={"t": job})) == [Resubmit("t")]
    unmounted = pod(executors=1, init={"trec": waiting("ContainerCreating", "")})
    old = snap(tasks={"t": ("QUEUED", T0 - timedelta(seconds=200))}, pods={"t": unmounted}, jobs={"t": job})
    assert Resubmit("t") in decide(old)
    assert Resubmit("t") not in decide(dataclasses.replace(old, resubmitted=frozenset({"t"})))
    assert decide(snap(tasks={"t": ("RUNNING", OLD)}, pods={"t": RUNNING_POD}, jobs={"t": job})) == []
    assert Resubmit("t") not in decide(snap(tasks={"t": ("QUEUED", OLD)}, jobs={"t": job}))  # timed out: ended instead


def test_dirty_starts_full_then_holds_only_what_was_marked() -> None:
    """The first pass sweeps; after it, a pass decides just the tasks marked since the last one."""
    dirty = Dirty()
    assert dirty and dirty.take() is None  # a new controller knows nothing yet: every task
    assert not dirty and dirty.take() == frozenset()
    dirty.mark("a")
    dirty.mark("b")
    dirty.mark("a")
    assert dirty and dirty.take() == {"a", "b"}
    assert not dirty  # taken: marked again only by a later event
    dirty.mark("c")
    assert dirty.take(full=True) is None  # a resync sweeps every task and consumes the marks
    assert dirty.take() == frozenset()


def test_dirty_after_a_relist_sweeps_everything_once() -> None:
    """A (re)list cannot say which Pods changed: the next pass takes every task, then marks count again."""
    dirty = Dirty()
    dirty.take()
    dirty.mark("a")
    dirty.mark_all()
    assert dirty.take() is None
    dirty.mark("b")
    assert dirty.take() == {"b"}


def test_dirty_restores_what_a_failed_pass_took() -> None:
    """A pass that did not happen puts back what it took: its tasks, or the full sweep."""
    dirty = Dirty()
    dirty.take()
    dirty.mark("a")
    taken = dirty.take()
    dirty.mark("b")
    dirty.restore(taken)
    assert dirty.take() == {"a", "b"}
    swept = dirty.take(full=True)
    dirty.restore(swept)
    assert dirty.take() is None


def test_decide_on_the_changed_tasks_only_sees_those() -> None:
    """A pass between resyncs (no Jobs) decides the tasks it is given and nothing else; no-Pod rules wait."""
    tasks = {"ended": ("RUNNING", OLD), "stuck": ("RUNNING", OLD), "nopod": ("RUNNING", OLD)}
    pods = {"ended": COMPLETE_POD, "stuck": STUCK_POD}
    later = 10_000  # past every timeout
    full = decide(snap(later, tasks=tasks, pods=pods, jobs={}))
    assert {a.task_id for a in full} == {"ended", "stuck", "nopod"}
    scope = frozenset({"ended"})
    partial = dataclasses.replace(snap(later, tasks={t: tasks[t] for t in scope}, pods={"ended": COMPLETE_POD}),
                                  scope=scope)
    assert kinds(decide(partial)) == [("Record", "ended", "COMPLETE")]


def _versioned(body: dict, version: str) -> dict:
    return {**body, "metadata": {**(body.get("metadata") or {}), "resourceVersion": version}}


def test_outcomes_given_with_the_snapshot_decide_the_same() -> None:
    """Whether a Pod's outcome is read in the pass or kept from the last one, every decision is the same."""
    cases = {"complete": ("RUNNING", COMPLETE_POD), "running": ("QUEUED", RUNNING_POD),
             "trec-down": ("QUEUED", TREC_DOWN_POD), "stuck": ("INITIALIZING", STUCK_POD),
             "canceling": ("CANCELING", RUNNING_POD)}
    tasks = {t: (state, OLD) for t, (state, _) in cases.items()}
    pods = {t: _versioned(body, "7") for t, (_, body) in cases.items()}
    outcomes = Outcomes()
    for now_s in (0, 301):  # before and after the pending timeout of the stuck Pod
        plain = decide(snap(now_s, tasks=tasks, pods=pods))
        kept = decide(dataclasses.replace(snap(now_s, tasks=tasks, pods=pods), outcomes=outcomes.of_all(pods)))
        assert kept == plain
    assert {a.task_id for a in plain} == {"complete", "trec-down", "stuck", "canceling"}


def test_outcomes_are_read_again_only_when_the_pod_changed() -> None:
    outcomes = Outcomes()
    first = outcomes.of("t", _versioned(RUNNING_POD, "1"))
    assert outcomes.of("t", _versioned(RUNNING_POD, "1")) is first  # kept: not read again
    assert outcomes.of("t", _versioned(COMPLETE_POD, "1")) is first  # same version, same Pod as far as it knows
    changed = outcomes.of("t", _versioned(COMPLETE_POD, "2"))
    assert isinstance(changed, Ended) and changed.end.state == "COMPLETE"
    unversioned = {**RUNNING_POD, "metadata": {k: v for k, v in RUNNING_POD["metadata"].items() if k != "resourceVersion"}}
    assert outcomes.of("u", unversioned) is not outcomes.of("u", unversioned)  # no version: never kept
    outcomes.of("v", _versioned(RUNNING_POD, "3"))
    outcomes.keep_only(["v"])
    assert len(outcomes) == 1 and outcomes.of("t", _versioned(COMPLETE_POD, "2")) is not changed
