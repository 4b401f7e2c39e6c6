"""Metrics move on transitions only, and the jobs-by-phase gauge follows the last phase seen."""

from __future__ import annotations

from prometheus_client import REGISTRY

from safesynth.spec.status import JobPhase, JobStatus, StagePhase, StageStatus

from safesynth_operator import metrics


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_observe_counts_transitions_once() -> None:
    key = ("ns", "metrics-test")
    running = JobStatus(phase=JobPhase.RUNNING, stages=[StageStatus(name="train", phase=StagePhase.RUNNING)])
    failed = JobStatus(phase=JobPhase.FAILED, stages=[StageStatus(name="train", phase=StagePhase.FAILED)])
    before = _value("safesynth_stage_failures_total", stage="train", reason="OOMKilled")
    metrics.observe(key, None, running)
    assert _value("safesynth_jobs", phase="Running") >= 1
    metrics.observe(key, running, failed, "OOMKilled")
    metrics.observe(key, failed, failed, "OOMKilled")  # no transition: not counted again
    assert _value("safesynth_stage_failures_total", stage="train", reason="OOMKilled") == before + 1
    running_now = _value("safesynth_jobs", phase="Running")
    metrics.forget(key)
    assert _value("safesynth_jobs", phase="Failed") == 0 and _value("safesynth_jobs", phase="Running") == running_now
