"""Pure decisions: reading Jobs and Pods, the next stage, the phase, the plan."""

from __future__ import annotations

import json
from typing import Any, Optional

import pytest

from safesynth.spec.models import STAGE_ORDER, StageName
from safesynth.spec import status_rules as rules
from safesynth.spec.status import JobPhase, JobStatus, StagePhase, StageStatus

from safesynth_operator import decisions as d
from safesynth_operator import manifests as m
from tests.kubeapi.patching import merge_patch
from tests.operator.conftest_helpers import NS, UID, config, cr, spec_of, summary


def job(status: dict[str, Any], uid: str = "job-uid", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "demo-train", "uid": uid}, "spec": {"backoffLimit": 2, **spec}, "status": status}


def pod(exit_code: int, message: str = "", reason: Optional[str] = None, owner: str = "job-uid",
        finished: str = "2024-01-01T00:01:00Z") -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "ownerReferences": [{"uid": owner}]},
        "status": {"containerStatuses": [{"name": "stage", "state": {"terminated": {
            "exitCode": exit_code, "message": message, "reason": reason, "finishedAt": finished}}}]},
    }


def failed_cond(reason: str = "BackoffLimitExceeded") -> dict[str, Any]:
    return {"conditions": [{"type": "Failed", "status": "True", "reason": reason}], "failed": 3}


def test_next_stage() -> None:
    assert d.next_stage(STAGE_ORDER, []) is StageName.PREPARE
    assert d.next_stage(STAGE_ORDER, [StageName.PREPARE, StageName.PII]) is StageName.TRAIN
    assert d.next_stage([StageName.PREPARE], [StageName.PREPARE]) is None


@pytest.mark.parametrize(
    "status, pods, phase, reason, message_has",
    [
        ({"active": 1}, [], StagePhase.RUNNING, None, None),
        ({}, [], StagePhase.PENDING, None, None),
        ({"conditions": [{"type": "Complete", "status": "True"}], "succeeded": 1},
         [pod(0, summary("train", epsilonSpent=3.5))], StagePhase.SUCCEEDED, None, None),
        ({"succeeded": 1}, [pod(0, json.dumps({"skipped": True}))], StagePhase.SKIPPED, None, None),
        # exit 2 with our error summary: its reason and message, verbatim
        ({"conditions": [{"type": "Failed", "status": "True", "reason": "PodFailurePolicy"}], "failed": 1},
         [pod(2, json.dumps({"stage": "train", "error": "BadInput", "exitCode": 2, "message": "column x missing"}))],
         StagePhase.FAILED, "BadInput", "column x missing"),
        ({"conditions": [{"type": "Failed", "status": "True"}]}, [pod(137, "", reason="OOMKilled")],
         StagePhase.FAILED, "OOMKilled", "limits.memory"),
        (failed_cond("DeadlineExceeded"), [], StagePhase.FAILED, "DeadlineExceeded", "activeDeadlineSeconds"),
        # a log tail (FallbackToLogsOnError): only the CLI's own error line is taken, nothing else; the reason
        # is the Job controller's, never a made-up StageError
        (failed_cond(), [pod(1, "row 17: alice@example.com\nerror: storage unreachable (s3://b)")],
         StagePhase.FAILED, "BackoffLimitExceeded", "storage unreachable"),
        (failed_cond(), [pod(1, "Traceback ... alice@example.com")], StagePhase.FAILED, "BackoffLimitExceeded",
         "exited with code 1 after 3 attempt(s)"),
        # our own error summary decides, as in the local driver (one status model)
        (failed_cond(), [pod(1, json.dumps({"error": "StorageError", "exitCode": 1, "message": "s3 down"}))],
         StagePhase.FAILED, "StorageError", "s3 down"),
        # counters without conditions (an older cluster): what the condition would have said
        ({"failed": 3}, [pod(1)], StagePhase.FAILED, "BackoffLimitExceeded", "exited with code 1"),
        ({"failed": 1, "conditions": [{"type": "Failed", "status": "True", "reason": "PodFailurePolicy"}]},
         [pod(4, json.dumps({"error": "GateNotMet", "exitCode": 4, "message": "quality 5.1 below minQuality 7"}))],
         StagePhase.FAILED, "GateNotMet", "below minQuality"),
        ({"conditions": [{"type": "Suspended", "status": "True"}]}, [], StagePhase.PENDING, None, None),
    ],
)
def test_read_job(status: dict[str, Any], pods: list[dict[str, Any]], phase: StagePhase, reason: Optional[str],
                  message_has: Optional[str]) -> None:
    out = d.read_job(StageName.TRAIN, job(status), pods)
    assert out.phase is phase and out.reason == reason
    if message_has:
        assert message_has in (out.message or "")
    assert "alice" not in (out.message or ""), "log text other than our error line must not leak"


def test_read_job_ignores_pods_of_other_jobs_and_takes_the_latest() -> None:
    done = {"conditions": [{"type": "Complete", "status": "True"}], "succeeded": 1}
    pods = [pod(0, summary("train", epsilonSpent=1.0), finished="2024-01-01T00:00:10Z"),
            pod(0, summary("train", epsilonSpent=2.0), finished="2024-01-01T00:00:20Z"),
            pod(0, summary("train", epsilonSpent=9.0), owner="other-job")]
    assert d.read_job(StageName.TRAIN, job(done), pods).summary["epsilonSpent"] == 2.0


def test_job_phase() -> None:
    st = lambda *p: [StageStatus(name=str(i), phase=x) for i, x in enumerate(p)]  # noqa: E731
    assert rules.job_phase(st(StagePhase.SUCCEEDED, StagePhase.FAILED), False, True) is JobPhase.FAILED
    assert rules.job_phase(st(StagePhase.SUCCEEDED, StagePhase.SKIPPED), True, True) is JobPhase.SUCCEEDED
    assert rules.job_phase(st(StagePhase.SUCCEEDED, StagePhase.PENDING), True, True) is JobPhase.SUSPENDED
    assert rules.job_phase(st(StagePhase.PENDING), False, False) is JobPhase.PENDING
    assert rules.job_phase(st(StagePhase.PENDING), False, True) is JobPhase.RUNNING


def test_headline_from_summaries() -> None:
    status = JobStatus(stages=[
        StageStatus(name="train", phase=StagePhase.SUCCEEDED, summary={"epsilonSpent": 4.2}),
        StageStatus(name="generate", phase=StagePhase.SKIPPED, summary={"rowsGenerated": 500}),
        StageStatus(name="evaluate", phase=StagePhase.SUCCEEDED, summary={"sqs": 8.1, "dps": 9.0}),
    ])
    rules.apply_headline(status, "s3://r/ns/demo-1/")
    assert status.headline.model_dump() == {"sqs": 8.1, "dps": 9.0, "epsilon_spent": 4.2, "rows_generated": 500}
    assert status.artifacts.synthetic_table == "s3://r/ns/demo-1/generate/synthetic.parquet"
    assert status.artifacts.report == "s3://r/ns/demo-1/evaluate/report.html"


# ------------------------------------------------------------------------ plan


def observed(status: JobStatus, jobs: Optional[dict[StageName, Any]] = None, cm_hash: Optional[str] = "same",
             pods: tuple = (), suspend: bool = False, stages: tuple = (StageName.PREPARE, StageName.PII),
             **kw: Any) -> d.Observed:
    spec = spec_of(cr(suspend=suspend))
    return d.Observed(name="demo", stages=stages, status=status, spec=spec, spec_hash="same",
                      run_uri="s3://runs/ns/demo-0123abcd/", now="2024-01-01T00:02:00Z", generation=1,
                      configmap_hash=cm_hash, jobs=jobs or {}, pods=pods, ttl_seconds=60, **kw)


def child(stage: StageName, status: dict[str, Any], spec_hash: str = "same", uid: str = "job-uid") -> dict[str, Any]:
    body = m.build_stage_job(m.Owner("demo", NS, UID), spec_of(cr()), stage, config())
    body["metadata"]["labels"]["safesynth.io/spec-hash"] = spec_hash
    body["metadata"]["uid"] = uid
    body["status"] = status
    return body


def test_plan_new_job_writes_configmap_and_creates_first_stage() -> None:
    p = d.plan(observed(JobStatus(), cm_hash=None))
    assert p.apply_configmap and not p.reset and p.create is StageName.PREPARE
    assert p.status.phase is JobPhase.RUNNING and p.status.stage == "prepare"
    assert [s.name for s in p.status.stages] == ["prepare", "pii"]
    assert p.status.stages[0].job_name == "demo-prepare"
    assert p.status.artifacts.run_uri == "s3://runs/ns/demo-0123abcd/" and p.status.observed_generation == 1
    assert {c.type: c.status for c in p.status.conditions} == {
        "Ready": "False", "Failed": "False", "Stalled": "False", "Complete": "False", "Suspended": "False"}


def test_plan_records_result_then_launches_next_and_sets_ttl() -> None:
    prev = d.plan(observed(JobStatus(), cm_hash=None)).status
    done = child(StageName.PREPARE, {"conditions": [{"type": "Complete", "status": "True"}], "succeeded": 1})
    p = d.plan(observed(prev, {StageName.PREPARE: done}, pods=(pod(0, summary("prepare", trainRows=90)),)))
    assert p.status.stages[0].phase is StagePhase.SUCCEEDED and p.status.stages[0].summary["trainRows"] == 90
    assert p.create is StageName.PII and p.finish_jobs == ["demo-prepare"]
    assert ("Normal", "StageSucceeded") in {(e.type, e.reason) for e in p.events}


def test_plan_existing_job_is_never_created_twice() -> None:
    prev = d.plan(observed(JobStatus(), cm_hash=None)).status
    running = child(StageName.PREPARE, {"active": 1})
    p = d.plan(observed(prev, {StageName.PREPARE: running}))
    assert p.create is None and p.status.stages[0].phase is StagePhase.RUNNING


def test_plan_failure_is_terminal_with_reason() -> None:
    prev = d.plan(observed(JobStatus(), cm_hash=None)).status
    bad = child(StageName.PREPARE, {"conditions": [{"type": "Failed", "status": "True"}], "failed": 1})
    msg = json.dumps({"stage": "prepare", "error": "BadInput", "exitCode": 2, "message": "data.uri: not found"})
    p = d.plan(observed(prev, {StageName.PREPARE: bad}, pods=(pod(2, msg),)))
    assert p.status.phase is JobPhase.FAILED and p.create is None
    assert p.status.message == "stage prepare failed: BadInput"
    failed = next(c for c in p.status.conditions if c.type == "Failed")
    assert failed.status == "True" and failed.reason == "BadInput" and failed.message == "data.uri: not found"
    # Flux (kstatus) reads Stalled, not Failed: a failed job must not look "in progress" to it.
    stalled = next(c for c in p.status.conditions if c.type == "Stalled")
    assert stalled.status == "True" and stalled.reason == "BadInput"
    again = d.plan(observed(p.status, {StageName.PREPARE: bad}))  # no pods needed any more
    assert again.status == p.status and not again.events and not again.finish_jobs


def test_plan_stale_children_are_deleted_and_status_reset_on_spec_change() -> None:
    prev = d.plan(observed(JobStatus(), cm_hash=None)).status
    prev.stages[0].phase = StagePhase.SUCCEEDED
    old_job = child(StageName.PREPARE, {"succeeded": 1}, spec_hash="old")
    p = d.plan(observed(prev, {StageName.PREPARE: old_job}, cm_hash="old"))
    assert p.reset and p.apply_configmap and p.delete_jobs == ["demo-prepare"]
    assert p.create is None, "the new Job waits until the old one of the same name is gone"
    assert all(s.phase is StagePhase.PENDING for s in p.status.stages)


def test_plan_suspend_and_resume() -> None:
    prev = d.plan(observed(JobStatus(), cm_hash=None)).status
    running = child(StageName.PREPARE, {"active": 1})
    p = d.plan(observed(prev, {StageName.PREPARE: running}, suspend=True))
    assert p.status.phase is JobPhase.SUSPENDED and p.suspend_jobs == ["demo-prepare"] and p.create is None
    held = child(StageName.PREPARE, {"conditions": [{"type": "Suspended", "status": "True"}]})
    held["spec"]["suspend"] = True
    held["metadata"]["annotations"]["safesynth.io/suspended-by-operator"] = "true"
    back = d.plan(observed(p.status, {StageName.PREPARE: held}))
    assert back.resume_jobs == ["demo-prepare"] and back.status.phase is JobPhase.RUNNING
    # A Job that Kueue holds is not ours to resume.
    del held["metadata"]["annotations"]["safesynth.io/suspended-by-operator"]
    assert d.plan(observed(p.status, {StageName.PREPARE: held})).resume_jobs == []


def test_plan_invalid_spec() -> None:
    p = d.plan(observed(JobStatus(), problems=["spec.data.uri: required field is missing"]))
    assert p.status.phase is JobPhase.FAILED and "spec.data.uri" in (p.status.message or "")
    assert p.create is None and [e.reason for e in p.events] == ["InvalidSpec"]


def test_reset_failed_resumes_at_the_failed_stage() -> None:
    status = JobStatus(phase=JobPhase.FAILED, stages=[
        StageStatus(name="prepare", phase=StagePhase.SUCCEEDED, job_name="demo-prepare"),
        StageStatus(name="pii", phase=StagePhase.FAILED, job_name="demo-pii", attempts=3, message="x"),
    ])
    new, delete = d.reset_failed(status, 2, "2026-01-01T00:00:00Z")
    assert delete == ["demo-pii"] and new.phase is JobPhase.RUNNING
    assert [s.phase for s in new.stages] == [StagePhase.SUCCEEDED, StagePhase.PENDING]
    assert new.stages[1].attempts == 0, "a new try counts its own attempts"
    assert {c.type: c.status for c in new.conditions} == {"Ready": "False", "Failed": "False", "Stalled": "False"}


def test_status_patch_removes_stale_keys_and_is_none_when_equal() -> None:
    old = {"phase": "Failed", "message": "boom", "headline": {"sqs": 1.0}}
    new = JobStatus(phase=JobPhase.RUNNING)
    patch = d.status_patch(old, new)
    assert patch["message"] is None and patch["phase"] == "Running" and patch["headline"] == {"sqs": None}
    assert d.status_patch(d.dump_status(new), new) is None


@pytest.mark.parametrize("old", [
    {},
    {"phase": "Failed", "message": "boom", "headline": {"sqs": 1.0, "dps": 2.0}, "stage": "pii"},
    {"phase": "Running", "stages": [{"name": "prepare", "phase": "Succeeded", "summary": {"rows": 5}}],
     "artifacts": {"runUri": "s3://r/", "report": "s3://r/evaluate/report.html"}, "extra": {"hand": "edited"}},
])
def test_status_patch_applied_as_the_api_server_does_gives_the_new_status(old: dict[str, Any]) -> None:
    """RFC 7386 round trip, applied by the emulation's own merge patch (tests/kubeapi), not the operator's code."""
    new = JobStatus(phase=JobPhase.RUNNING, stage="train", headline={"sqs": 3.0}, stages=[
        StageStatus(name="prepare", phase=StagePhase.SUCCEEDED, summary={"rows": 6, "nested": {"a": [1, 2]}}),
        StageStatus(name="pii", phase=StagePhase.RUNNING)])
    assert merge_patch(old, d.status_patch(old, new) or {}) == d.dump_status(new)


@pytest.mark.parametrize("uri, mounted, refused", [
    ("s3://bucket/table.csv", False, None),
    ("examples/data/patients.csv", False, "relative path"),
    ("examples/data/patients.csv", True, "relative path"),  # the pod's working directory is never the user's
    ("/data/table.csv", False, "localPathsMounted"),
    ("file:///data/table.csv", False, "localPathsMounted"),
    ("file:///data/table.csv", True, None),
])
def test_data_uri_problem(uri: str, mounted: bool, refused: Optional[str]) -> None:
    problem = d.data_uri_problem(uri, mounted)
    assert (problem is None) is (refused is None)
    if refused:
        assert problem is not None and problem.startswith("spec.data.uri: ") and refused in problem
        assert uri not in problem, "the message names the field, not the value"


def test_retry_delay_doubles_up_to_ten_minutes() -> None:
    assert [d.retry_delay(n, 10) for n in range(8)] == [10, 20, 40, 80, 160, 320, 600, 600]


def test_plan_cleanup_stops_stages_and_waits_for_their_pods() -> None:
    running = {"metadata": {"name": "demo-train"}, "spec": {}, "status": {"active": 1}}
    done = {"metadata": {"name": "demo-prepare"}, "spec": {}, "status": {"conditions": [
        {"type": "Complete", "status": "True"}]}}
    live_pod = {"metadata": {"name": "p"}, "status": {"phase": "Running"}}
    step = d.plan_cleanup([done, running], [live_pod], None)
    assert step.stop_jobs == ("demo-train",) and not step.create and step.outcome == "waiting"
    suspended = {**running, "spec": {"suspend": True}}
    assert d.plan_cleanup([done, suspended], [live_pod], None).create is False, "its pod still runs"
    ended = {"metadata": {"name": "p"}, "status": {"phase": "Failed"}}
    assert d.plan_cleanup([done, suspended], [ended], None).create is True
    cleanup = {"metadata": {"name": "demo-cleanup"}, "status": {"conditions": [{"type": "Complete", "status": "True"}]}}
    assert d.plan_cleanup([], [], cleanup).outcome == "done"
