"""The local driver: `safesynth run JOB.yaml` runs every stage in one process.

It reads the same manifest `kubectl apply` takes, runs the registered stages in
order through the same contract the operator's pods use (so a re-run resumes at
the first unfinished stage), and keeps `status.json` at the run root in the
shape of the CR's `.status`, rewritten after every transition.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

from safesynth.contract import HEADLINE_KEYS, MESSAGE_MAX, REPORT_KEY, STATUS_KEY, SYNTHETIC_TABLE_KEY
from safesynth.errors import SafeSynthError
from safesynth.progress import LogProgress, Progress
from safesynth.spec.models import SafeSynthJob, SafeSynthJobSpec, StageName
from safesynth.spec.status import JobPhase, JobStatus, StagePhase, StageStatus, now_iso, set_condition, set_failed
from safesynth.stages import registry
from safesynth.stages.runner import execute_stage
from safesynth.store import ArtifactStore, open_store

LOCAL_RUNS = "./safesynth-runs"


def default_run_uri(job: SafeSynthJob) -> str:
    """`<artifacts.uri>/<name>` when the spec names a root, else ./safesynth-runs/<name>."""
    root = job.spec.artifacts.uri or LOCAL_RUNS
    return f"{root.rstrip('/')}/{job.metadata.name}"


def open_run_store(spec: SafeSynthJobSpec, run_uri: str) -> ArtifactStore:
    """The run's store, reached with the spec's S3 settings (the CLI's `stage` and `clean` use it too)."""
    a = spec.artifacts
    return open_store(run_uri, endpoint_url=a.endpoint, region=a.region, path_style=a.path_style)


def _apply_summary(status: JobStatus, stage: StageName, summary: dict[str, Any], store: ArtifactStore) -> None:
    """Copy a finished stage's headline numbers and artifact URIs into the status."""
    for wire, attr in HEADLINE_KEYS.items():
        if summary.get(wire) is not None:
            setattr(status.headline, attr, summary[wire])
    if stage is StageName.GENERATE:
        status.artifacts.synthetic_table = store.url(SYNTHETIC_TABLE_KEY)
    if stage is StageName.EVALUATE:
        status.artifacts.report = store.url(REPORT_KEY)


def run_job(
    job: SafeSynthJob,
    run_uri: Optional[str] = None,
    *,
    progress: Optional[Progress] = None,
    force: bool = False,
    only: Optional[list[StageName]] = None,
    on_status: Optional[Callable[[JobStatus], None]] = None,
) -> JobStatus:
    """Run the job's stages in order; returns the final status (also in status.json).

    Raises the failing stage's SafeSynthError after recording it in the status.
    """
    progress = progress or LogProgress()
    run_uri = run_uri or default_run_uri(job)
    store = open_run_store(job.spec, run_uri)
    stages = registry()
    selected = [s for s in stages if only is None or s in only]
    status = JobStatus(
        phase=JobPhase.RUNNING,
        start_time=now_iso(),
        stages=[StageStatus(name=s.value) for s in selected],
    )
    status.artifacts.run_uri = store.uri

    def publish() -> None:
        store.write_json(STATUS_KEY, status.model_dump(by_alias=True, mode="json", exclude_none=True))
        if on_status:
            on_status(status)

    if job.spec.suspend:
        status.phase = JobPhase.SUSPENDED
        status.conditions = set_condition(status.conditions, "Ready", False, "Suspended", "spec.suspend is true", now=now_iso())
        publish()
        return status

    for entry, name in zip(status.stages, selected):
        status.stage = name.value
        entry.phase, entry.start_time, entry.attempts = StagePhase.RUNNING, now_iso(), entry.attempts + 1
        status.conditions = set_condition(
            status.conditions, "Ready", False, "Running", f"stage {name.value} running", now=now_iso()
        )
        publish()
        try:
            outcome = execute_stage(stages[name], job.spec, store, progress, force=force)
        except SafeSynthError as err:
            entry.phase, entry.completion_time, entry.message = StagePhase.FAILED, now_iso(), str(err)[:MESSAGE_MAX]
            status.phase, status.completion_time = JobPhase.FAILED, now_iso()
            status.message = f"stage {name.value} failed: {err.reason}"
            status.conditions = set_condition(status.conditions, "Ready", False, err.reason, status.message, now=now_iso())
            status.conditions = set_failed(status.conditions, True, err.reason, entry.message, now=now_iso())
            publish()
            raise
        entry.phase = StagePhase.SKIPPED if outcome.skipped else StagePhase.SUCCEEDED
        entry.completion_time = now_iso()
        entry.summary = outcome.summary
        _apply_summary(status, name, outcome.summary, store)
        publish()

    status.phase, status.stage, status.completion_time = JobPhase.SUCCEEDED, None, now_iso()
    status.message = f"{len(selected)} stage(s) done"
    status.conditions = set_condition(status.conditions, "Ready", True, "Succeeded", status.message, now=now_iso())
    status.conditions = set_failed(status.conditions, False, "Succeeded", now=now_iso())
    publish()
    return status


def local_path(run_uri: str) -> Optional[Path]:
    """The folder for a local run URI, for printing; None for S3."""
    if run_uri.startswith("s3://"):
        return None
    return Path(run_uri.removeprefix("file://")).resolve()
