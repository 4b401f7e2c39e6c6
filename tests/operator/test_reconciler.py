"""The reconcile shell over an in-memory cluster: order of stages, restarts, conflicts, TTL.

Every step builds a new Reconciler, as a restarted operator would: nothing is
carried in memory from one step to the next.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from safesynth.spec.models import StageName

from safesynth_operator.cluster import configmaps_path, cr_path, jobs_path
from safesynth_operator.decisions import Event
from safesynth_operator.reconciler import Reconciler
from tests.operator.conftest_helpers import NS, config, cr, summary
from tests.operator.fakecluster import FakeCluster

STAGES = [StageName.PREPARE, StageName.PII, StageName.EVALUATE]


def setup(**spec: Any) -> FakeCluster:
    cluster = FakeCluster()
    cluster.add(cr_path(NS), cr(**spec))
    return cluster


def step(cluster: FakeCluster, events: list[Event] | None = None, **cfg: Any) -> dict[str, Any]:
    """One reconcile by a fresh operator; returns the stored status."""
    sink = (lambda body, ev: events.append(ev)) if events is not None else (lambda body, ev: None)
    rec = Reconciler(cluster, config(stages=STAGES, **cfg), post_event=sink)
    asyncio.run(rec.reconcile(NS, "demo"))
    return cluster.objects[cr_path(NS)]["demo"].get("status", {})


def test_full_run_in_order_with_headline_and_ttl() -> None:
    cluster = setup()
    events: list[Event] = []
    status = step(cluster, events)
    assert list(cluster.jobs()) == ["demo-prepare"] and status["phase"] == "Running"
    cm = cluster.objects[configmaps_path(NS)]["demo-spec"]
    assert json.loads(cm["data"]["spec.json"])["data"]["uri"] == "s3://in/table.csv"

    step(cluster)  # nothing happened: nothing is created again
    assert list(cluster.jobs()) == ["demo-prepare"]

    results = {"prepare": {"trainRows": 360}, "pii": {"columnsReplaced": 2}, "evaluate": {"sqs": 7.9, "dps": 9.1}}
    for stage, numbers in results.items():
        cluster.finish_job(f"demo-{stage}", 0, summary(stage, **numbers))
        status = step(cluster, events)
    assert list(cluster.jobs()) == ["demo-prepare", "demo-pii", "demo-evaluate"]
    assert status["phase"] == "Succeeded" and "stage" not in status
    assert [s["phase"] for s in status["stages"]] == ["Succeeded"] * 3
    assert status["headline"] == {"sqs": 7.9, "dps": 9.1}
    assert status["artifacts"]["report"] == "s3://runs/ns/demo-0123abcd/evaluate/report.html"
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "Ready": "True", "Failed": "False", "Stalled": "False", "Complete": "True", "Suspended": "False"}
    # ttlSecondsAfterFinished only once each result was in status
    assert all(j["spec"].get("ttlSecondsAfterFinished") == 3600 for j in cluster.jobs().values())
    reasons = [e.reason for e in events]
    assert reasons.count("StageJobCreated") == 3 and reasons.count("StageSucceeded") == 3 and "Succeeded" in reasons


def test_exit_2_fails_the_job_with_its_reason_and_retry_resumes_there() -> None:
    cluster = setup()
    step(cluster)
    cluster.finish_job("demo-prepare", 0, summary("prepare"))
    step(cluster)
    err = {"stage": "pii", "error": "BadInput", "exitCode": 2, "message": "pii.columns.ssn: no such column"}
    cluster.finish_job("demo-pii", 2, json.dumps(err))
    status = step(cluster)
    assert status["phase"] == "Failed" and status["stage"] == "pii"
    assert status["message"] == "stage pii failed: BadInput"
    assert status["stages"][1]["message"] == "pii.columns.ssn: no such column"
    assert "demo-evaluate" not in cluster.jobs()
    assert "ttlSecondsAfterFinished" not in cluster.jobs()["demo-pii"]["spec"], "failed Jobs stay for their logs"

    asyncio.run(Reconciler(cluster, config(stages=STAGES)).retry(NS, "demo"))
    status = cluster.objects[cr_path(NS)]["demo"]["status"]
    assert status["phase"] == "Running" and status["stages"][0]["phase"] == "Succeeded"
    assert not cluster.jobs()["demo-pii"].get("status"), "the failed Job was replaced by a fresh one"


def _edit(cluster: FakeCluster, section: str, key: str, value: Any) -> None:
    body = cluster.objects[cr_path(NS)]["demo"]
    body["spec"].setdefault(section, {})[key] = value
    body["metadata"]["generation"] += 1


def _running_pii(**spec: Any) -> FakeCluster:
    cluster = setup(**spec)
    step(cluster)
    cluster.finish_job("demo-prepare", 0, summary("prepare"))
    step(cluster)
    cluster.start_job("demo-pii")
    return cluster


def test_spec_change_that_reaches_a_running_stage_is_rejected_and_nothing_is_deleted() -> None:
    cluster = _running_pii()
    cm_before = cluster.objects[configmaps_path(NS)]["demo-spec"]["data"]
    _edit(cluster, "data", "seed", 7)
    status = step(cluster)
    assert ("delete", jobs_path(NS, "demo-pii")) not in cluster.calls, "the running Job stays"
    assert list(cluster.jobs()) == ["demo-prepare", "demo-pii"]
    assert cluster.objects[configmaps_path(NS)]["demo-spec"]["data"] == cm_before, "pods keep the applied spec"
    rejected = next(c for c in status["conditions"] if c["type"] == "SpecChangeRejected")
    assert rejected["status"] == "True" and "spec.data" in rejected["message"] and "pii" in rejected["message"]
    assert [s["phase"] for s in status["stages"]] == ["Succeeded", "Running", "Pending"]

    # Once the running stage ends, the change applies from the first stage it touches.
    cluster.finish_job("demo-pii", 0, summary("pii"))
    status = step(cluster)
    assert [s["phase"] for s in status["stages"]] == ["Pending"] * 3
    assert json.loads(cluster.objects[configmaps_path(NS)]["demo-spec"]["data"]["spec.json"])["data"]["seed"] == 7
    assert next(c for c in status["conditions"] if c["type"] == "SpecChangeRejected")["status"] == "False"


def test_spec_change_of_a_stage_not_started_applies_without_touching_running_jobs() -> None:
    cluster = _running_pii()
    _edit(cluster, "evaluation", "maxRows", 1000)
    status = step(cluster)
    assert not [c for c in cluster.calls if c[0] == "delete"]
    assert json.loads(cluster.objects[configmaps_path(NS)]["demo-spec"]["data"]["spec.json"])["evaluation"][
        "maxRows"] == 1000
    assert [s["phase"] for s in status["stages"]] == ["Succeeded", "Running", "Pending"]
    assert not any(c["type"] == "SpecChangeRejected" for c in status["conditions"])


def test_restart_from_changed_stage_replaces_that_stage_and_later_ones() -> None:
    cluster = _running_pii(onSpecChange="RestartFromChangedStage")
    _edit(cluster, "pii", "threshold", 0.7)
    status = step(cluster)
    assert [s["phase"] for s in status["stages"]] == ["Succeeded", "Pending", "Pending"]
    assert ("delete", jobs_path(NS, "demo-pii")) in cluster.calls
    assert ("delete", jobs_path(NS, "demo-prepare")) not in cluster.calls, "earlier stages keep their result"
    step(cluster)
    assert not cluster.jobs()["demo-pii"].get("status"), "a fresh pii Job runs the new spec"


def test_suspend_holds_the_running_stage_and_resume_continues() -> None:
    cluster = setup()
    step(cluster)
    cluster.start_job("demo-prepare")
    cluster.objects[cr_path(NS)]["demo"]["spec"]["suspend"] = True
    status = step(cluster)
    job = cluster.jobs()["demo-prepare"]
    assert status["phase"] == "Suspended" and job["spec"]["suspend"] is True
    cluster.objects[cr_path(NS)]["demo"]["spec"]["suspend"] = False
    status = step(cluster)
    assert cluster.jobs()["demo-prepare"]["spec"]["suspend"] is False and status["phase"] == "Running"


def test_foreign_job_with_our_name_is_an_error_ours_is_adopted() -> None:
    cluster = setup()
    cluster.add(jobs_path(NS), {"metadata": {"name": "demo-prepare", "labels": {}}, "spec": {}})
    status = step(cluster)
    assert status["phase"] == "Failed" and status["conditions"][0]["reason"] == "NameConflict"

    cluster = setup()
    rec = Reconciler(cluster, config(stages=STAGES))
    asyncio.run(rec.reconcile(NS, "demo"))
    job = cluster.jobs()["demo-prepare"]
    del cluster.objects[cr_path(NS)]["demo"]["status"]  # status lost: the Job is still found by label and adopted
    status = step(cluster)
    assert cluster.jobs()["demo-prepare"] is job and status["stages"][0]["jobName"] == "demo-prepare"


def test_invalid_spec_is_failed_without_children() -> None:
    cluster = setup(training={"hiddenSize": 100, "heads": 3})
    events: list[Event] = []
    status = step(cluster, events)
    assert status["phase"] == "Failed" and "hiddenSize" in status["message"]
    assert not cluster.jobs() and [e.reason for e in events] == ["InvalidSpec"]
    step(cluster, events)
    assert len(events) == 1, "no repeated events for the same problem"


def test_resync_visits_only_unfinished_jobs() -> None:
    cluster = setup()
    cluster.add(cr_path(NS), {**cr(name="done", uid="u-done"), "status": {"phase": "Succeeded"}})
    rec = Reconciler(cluster, config(stages=STAGES))
    assert asyncio.run(rec.resync_once([NS])) == 1
    assert list(cluster.jobs()) == ["demo-prepare"]
