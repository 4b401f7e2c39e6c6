"""Prometheus metrics of the operator: jobs by phase, stage durations and failures.

Counters move on transitions the reconciler observes (old status → new status),
so a reconcile that changes nothing counts nothing. `safesynth_jobs` is computed
from the last phase seen per SafeSynthJob; it is the only metric state kept in
memory, and it refills as the operator resumes every object after a restart.
Labels are bounded sets (stage names, phases, error reasons), never job names.
"""

from __future__ import annotations

from typing import Optional

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from safesynth.spec.status import JobPhase, JobStatus, StagePhase

JOBS = Gauge("safesynth_jobs", "SafeSynthJobs by phase, as last seen by this operator", ["phase"])
STAGE_JOBS_CREATED = Counter("safesynth_stage_jobs_created_total", "Stage Jobs created", ["stage"])
STAGE_RESULTS = Counter("safesynth_stage_results_total", "Stages finished, by phase", ["stage", "phase"])
STAGE_FAILURES = Counter("safesynth_stage_failures_total", "Stages failed, by reason", ["stage", "reason"])
STAGE_DURATION = Histogram(
    "safesynth_stage_duration_seconds",
    "Wall time of a finished stage, from its summary",
    ["stage"],
    buckets=(1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400, 43200, 86400),
)
RECONCILE_SECONDS = Histogram(
    "safesynth_reconcile_seconds", "Time of one reconcile (reads, plan, writes)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
RECONCILE_ERRORS = Counter("safesynth_reconcile_errors_total", "Reconciles that raised (kopf retries them)")

_phases: dict[tuple[str, str], str] = {}


def _refresh_jobs_gauge() -> None:
    counts = {p.value: 0 for p in JobPhase}
    for phase in _phases.values():
        counts[phase] = counts.get(phase, 0) + 1
    for phase, n in counts.items():
        JOBS.labels(phase=phase).set(n)


def observe(key: tuple[str, str], old: Optional[JobStatus], new: JobStatus, failure_reason: Optional[str] = None) -> None:
    """Count what changed between two statuses of one SafeSynthJob."""
    _phases[key] = new.phase.value
    _refresh_jobs_gauge()
    before = {s.name: s for s in (old.stages if old else [])}
    for entry in new.stages:
        prior = before.get(entry.name)
        if prior is not None and prior.phase is entry.phase:
            continue
        if entry.phase in (StagePhase.SUCCEEDED, StagePhase.SKIPPED, StagePhase.FAILED):
            STAGE_RESULTS.labels(stage=entry.name, phase=entry.phase.value).inc()
            secs = (entry.summary or {}).get("durationSeconds")
            if isinstance(secs, (int, float)) and entry.phase is StagePhase.SUCCEEDED:
                STAGE_DURATION.labels(stage=entry.name).observe(secs)
        if entry.phase is StagePhase.FAILED:
            STAGE_FAILURES.labels(stage=entry.name, reason=failure_reason or "StageFailed").inc()


def forget(key: tuple[str, str]) -> None:
    """A SafeSynthJob was deleted: it no longer counts in `safesynth_jobs`."""
    if _phases.pop(key, None) is not None:
        _refresh_jobs_gauge()


def serve(port: int) -> None:
    """Expose /metrics on `port` (0: off)."""
    if port:
        start_http_server(port)
