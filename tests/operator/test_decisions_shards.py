"""`plan` for a sharded generate stage (spec.generation.shards > 1): the Indexed Job, then the merge Job,
whose result is the stage's."""

from __future__ import annotations

from typing import Any, Optional

from safesynth.spec.models import StageName
from safesynth.spec.status import JobStatus, StagePhase

from safesynth_operator import decisions as d
from safesynth_operator import manifests as m
from tests.operator.conftest_helpers import NS, UID, config, cr, spec_of, summary
from tests.operator.test_decisions import failed_cond, pod

STAGES = (StageName.GENERATE, StageName.EVALUATE)
DONE = {"conditions": [{"type": "Complete", "status": "True"}], "succeeded": 2}


def body(shards: int = 2, temperature: float = 0.9) -> dict[str, Any]:
    out = cr()
    out["spec"]["generation"] = {"shards": shards, "temperature": temperature}
    return out


def shards_job(status: dict[str, Any], **spec: Any) -> dict[str, Any]:
    job = m.build_stage_job(m.Owner("demo", NS, UID), spec_of(body(**spec)), StageName.GENERATE, config())
    job["metadata"]["uid"], job["status"] = "gen-uid", status
    return job


def merge_job(status: dict[str, Any], **spec: Any) -> dict[str, Any]:
    job = m.build_merge_job(m.Owner("demo", NS, UID), spec_of(body(**spec)), config())
    job["metadata"]["uid"], job["status"] = "merge-uid", status
    return job


def observed(status: JobStatus, gen: Optional[dict[str, Any]] = None, merge: Optional[dict[str, Any]] = None,
             pods: tuple = (), **spec: Any) -> d.Observed:
    return d.Observed(name="demo", stages=STAGES, status=status, spec=spec_of(body(**spec)), spec_hash="same",
                      run_uri="s3://runs/ns/demo-0123abcd/", now="2024-01-01T00:02:00Z", generation=1,
                      configmap_hash="same", jobs={StageName.GENERATE: gen} if gen else {}, pods=pods,
                      ttl_seconds=60, merge_job=merge)


def start() -> JobStatus:
    first = d.plan(observed(JobStatus()))
    assert first.create is StageName.GENERATE and not first.create_merge
    return first.status


def test_shards_done_creates_the_merge_and_the_stage_runs_until_it_ends() -> None:
    p = d.plan(observed(start(), shards_job(DONE)))
    entry = p.status.stages[0]
    assert p.create_merge and p.create is None and entry.phase is StagePhase.RUNNING
    assert entry.message == "all 2 shards done; merging" and "MergeJobCreated" in {e.reason for e in p.events}
    p = d.plan(observed(p.status, shards_job(DONE), merge_job({"active": 1})))
    assert not p.create_merge and p.create is None and p.status.stages[0].phase is StagePhase.RUNNING


def test_the_merge_result_is_the_stage_result_then_evaluate_starts() -> None:
    merged = pod(0, summary("generate", rowsGenerated=1000, shards=[{"index": 0}, {"index": 1}]), owner="merge-uid")
    shard_pod = pod(0, summary("generate", rowsGenerated=500), owner="gen-uid", finished="2024-01-01T00:09:00Z")
    done_merge = {"conditions": [{"type": "Complete", "status": "True"}], "succeeded": 1}
    p = d.plan(observed(start(), shards_job(DONE), merge_job(done_merge), pods=(merged, shard_pod)))
    entry = p.status.stages[0]
    assert entry.phase is StagePhase.SUCCEEDED and entry.summary["rowsGenerated"] == 1000
    assert entry.job_name == "demo-merge" and entry.attempts == 3  # two shard pods and the merge pod
    assert p.create is StageName.EVALUATE and p.finish_jobs == ["demo-generate", "demo-merge"]
    assert p.status.headline.rows_generated == 1000
    again = d.plan(observed(p.status, shards_job(DONE), merge_job(done_merge)))
    assert again.status.stages[0].summary["rowsGenerated"] == 1000  # kept without re-reading pods


def test_a_failed_shard_fails_the_stage_and_no_merge_runs() -> None:
    p = d.plan(observed(start(), shards_job(failed_cond("PodFailurePolicy")),
                        pods=(pod(2, '{"error": "BadInput", "exitCode": 2}', owner="gen-uid"),)))
    assert p.status.stages[0].phase is StagePhase.FAILED and not p.create_merge and p.create is None


def test_a_failed_merge_is_retried_alone_the_shards_are_kept() -> None:
    p = d.plan(observed(start(), shards_job(DONE), merge_job(failed_cond("PodFailurePolicy")),
                        pods=(pod(2, '{"error": "BadInput", "exitCode": 2}', owner="merge-uid"),)))
    assert p.status.stages[0].phase is StagePhase.FAILED and p.status.stages[0].job_name == "demo-merge"
    status, delete = d.reset_failed(p.status, 1, "2024-01-01T00:03:00Z")
    assert delete == ["demo-merge"]
    p = d.plan(observed(status, shards_job(DONE)))
    assert p.create_merge and p.status.stages[0].phase is StagePhase.RUNNING


def test_a_spec_edit_of_generation_replaces_the_shards_and_their_merge() -> None:
    status = d.plan(observed(start(), shards_job(DONE), merge_job({"active": 1}))).status
    p = d.plan(observed(status, shards_job(DONE), merge_job({"active": 1}), temperature=0.5))
    assert {"demo-generate", "demo-merge"} <= set(p.delete_jobs) and not p.create_merge


def test_needs_pods_until_the_merge_result_is_recorded() -> None:
    done_merge = merge_job({"conditions": [{"type": "Complete", "status": "True"}], "succeeded": 1})
    status = start()
    assert d.needs_pods(status, {StageName.GENERATE: shards_job(DONE)}, done_merge)
    status.stages[0].phase, status.stages[0].job_name = StagePhase.SUCCEEDED, "demo-merge"
    assert not d.needs_pods(status, {StageName.GENERATE: shards_job(DONE)}, done_merge)
