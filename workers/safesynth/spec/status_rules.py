"""The status model's rules, once: phase, conditions, message and headline from the stage entries.

Both drivers call these. `safesynth run` (safesynth.driver) fills stage entries
from the stages it runs in-process; the operator (safesynth_operator.decisions)
fills them from stage Jobs and their pods. Each then calls `settle` and
`apply_headline`, so a stage outcome reads the same in `status.json` and in the
custom resource's `.status` (tests/operator/test_status_model.py runs the same
outcomes through both and compares).

Rules, in order (the first that applies wins):
1. a job-level failure (invalid spec, a name conflict, a stage that failed
   before it touched its earlier result) or a failed stage: phase `Failed`;
2. every stage done (Succeeded or Skipped): `Succeeded`;
3. `spec.suspend`: `Suspended`;
4. the current stage's Job waits for a queue's admission (Kueue): `Queued`;
5. a stage launched: `Running`, else `Pending`.

Conditions follow the API conventions and what tools read: `Ready` (people,
Argo CD), `Failed` with `Stalled` (Flux's kstatus reads only Ready, Reconciling
and Stalled), `Complete` (so `kubectl wait --for=condition=Complete` works, as for
a batch/v1 Job) and `Suspended`. Every one is written in every state, True or
False, so a reader never has to guess what a missing condition means.

Pure: the caller passes the time. No pandas or torch here: the operator imports this.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

from safesynth import contract
from safesynth.spec.status import JobPhase, JobStatus, StagePhase, StageStatus, set_condition, set_failed

DONE = (StagePhase.SUCCEEDED, StagePhase.SKIPPED)
TERMINAL = (StagePhase.SUCCEEDED, StagePhase.SKIPPED, StagePhase.FAILED)

# The evaluate stage's release gates: a failed gate is this reason (exit code 4, never retried)
# and its summary says `released: false`; the synthetic table is then not named as the result.
GATE_NOT_MET = "GateNotMet"
GATE_STAGE = "evaluate"
WITHHELD = "release gates not met: the synthetic table is withheld (see the evaluation report)"
SUSPENDED_MESSAGE = "spec.suspend is true: no new stage is launched"
HIDDEN = "its message is hidden because it may hold data values"


@dataclass(frozen=True)
class Failure:
    """A failure the stage entries do not show by themselves.

    `stage` names where it happened when the stage's entry keeps an earlier result
    (a re-run that failed before the stage touched its finished artifacts).
    """

    reason: str
    message: str
    stage: Optional[str] = None


def stage_failure(summary: Optional[Mapping[str, Any]], exit_code: Optional[int] = None) -> tuple[str, str]:
    """(reason, message) of a failed stage from its error summary (safesynth.stages.runner.error_summary).

    Our own errors carry a value-free message; any other exception only its
    type name, since its text may quote a row.
    """
    summary = summary or {}
    reason = str(summary.get("error") or "StageError")
    code = summary.get("exitCode", exit_code)
    message = summary.get("message")
    if not message:
        message = f"{reason} (exit code {code}); {HIDDEN}" if code is not None else f"{reason}; {HIDDEN}"
    return reason, str(message)[: contract.MESSAGE_MAX]


def withheld(stages: Sequence[StageStatus]) -> bool:
    """True when the release gates were not met: the run has no synthetic table to hand out."""
    for entry in stages:
        if entry.name != GATE_STAGE:
            continue
        if entry.phase is StagePhase.FAILED and entry.reason == GATE_NOT_MET:
            return True
        if (entry.summary or {}).get("released") is False:
            return True
    return False


def artifact_url(run_uri: str, key: str) -> str:
    """`<run>/<key>`, with exactly one slash between (run URIs end with one on the cluster, not locally)."""
    return f"{run_uri.rstrip('/')}/{key}"


def apply_headline(status: JobStatus, run_uri: str) -> None:
    """Headline numbers and artifact URIs from the stage summaries, in stage order.

    Finished stages count; so does an evaluate stage whose gates failed, since its
    scores say why. The synthetic table is named only when it was released.
    """
    status.artifacts.run_uri = run_uri
    status.artifacts.synthetic_table = status.artifacts.report = None
    held = withheld(status.stages)
    for entry in status.stages:
        gated = entry.name == GATE_STAGE and entry.phase is StagePhase.FAILED and entry.reason == GATE_NOT_MET
        if not entry.summary or not (entry.phase in DONE or gated):
            continue
        for wire, attr in contract.HEADLINE_KEYS.items():
            if entry.summary.get(wire) is not None:
                setattr(status.headline, attr, entry.summary[wire])
        if entry.name == "generate" and entry.phase in DONE and not held:
            status.artifacts.synthetic_table = artifact_url(run_uri, contract.SYNTHETIC_TABLE_KEY)
        if entry.name == GATE_STAGE and entry.phase in DONE:
            status.artifacts.report = artifact_url(run_uri, contract.REPORT_KEY)


def job_phase(stages: Sequence[StageStatus], suspend: bool, launched: bool, queued: bool = False) -> JobPhase:
    """Failed wins, then Succeeded (all done), then Suspended, Queued (a queue holds the current stage's Job:
    it is not running, and saying Running would hide a wait for quota), Running once a stage launched,
    else Pending."""
    if any(s.phase is StagePhase.FAILED for s in stages):
        return JobPhase.FAILED
    if stages and all(s.phase in DONE for s in stages):
        return JobPhase.SUCCEEDED
    if suspend:
        return JobPhase.SUSPENDED
    if queued:
        return JobPhase.QUEUED
    if launched or any(s.phase is not StagePhase.PENDING for s in stages):
        return JobPhase.RUNNING
    return JobPhase.PENDING


def estimate_remaining(done: int, total: Optional[int], elapsed_seconds: float) -> Optional[float]:
    """Seconds left at the average rate so far; None until there is a rate and a total."""
    if total is None or done <= 0 or elapsed_seconds <= 0 or done >= total:
        return 0.0 if total is not None and done >= total > 0 else None
    return round(elapsed_seconds * (total - done) / done, 1)


def settle(
    status: JobStatus,
    *,
    suspend: bool,
    launched: bool,
    now: str,
    generation: Optional[int] = None,
    failure: Optional[Failure] = None,
    queued: Optional[str] = None,
) -> None:
    """Set phase, stage, message, times and the five conditions from the stage entries (in place).

    `queued` names the queue that holds the current stage's Job (the operator only; a local run has none).
    """
    stages = status.stages
    failed = next((e for e in stages if e.phase is StagePhase.FAILED), None)
    pending = next((e for e in stages if e.phase not in DONE), None)
    phase = JobPhase.FAILED if failure is not None else job_phase(stages, suspend, launched, queued is not None)
    status.phase = phase

    def conditions(ready: tuple[bool, str, str], failed_: tuple[bool, str, str], complete: tuple[bool, str],
                   suspended: tuple[bool, str]) -> None:
        out = set_condition(status.conditions, "Ready", ready[0], ready[1], ready[2], generation, now=now)
        out = set_failed(out, failed_[0], failed_[1], failed_[2], generation, now=now)
        out = set_condition(out, "Complete", complete[0], complete[1], "", generation, now=now)
        out = set_condition(out, "Suspended", suspended[0], suspended[1],
                            SUSPENDED_MESSAGE if suspended[0] else "", generation, now=now)
        status.conditions = out

    if phase is JobPhase.FAILED:
        if failure is not None:
            reason, detail = failure.reason, failure.message
            status.stage = failure.stage or (failed.name if failed else status.stage)
            status.message = (f"stage {failure.stage} failed: {reason}" if failure.stage else detail)
        else:
            assert failed is not None
            reason = failed.reason or "StageFailed"
            detail = failed.message or f"stage {failed.name} failed"
            status.stage = failed.name
            status.message = f"stage {failed.name} failed: {reason}"
        if withheld(stages):
            status.message = f"{status.message}; {WITHHELD}"
        status.message = status.message[: contract.MESSAGE_MAX]
        status.completion_time = status.completion_time or now
        conditions((False, reason, status.message), (True, reason, detail[: contract.MESSAGE_MAX]),
                   (False, "Failed"), (False, "Failed"))
    elif phase is JobPhase.SUCCEEDED:
        status.stage = None
        status.message = f"{len(stages)} stage(s) done"
        status.completion_time = status.completion_time or now
        conditions((True, "Succeeded", status.message), (False, "Succeeded", ""), (True, "Succeeded"),
                   (False, "Succeeded"))
    else:
        status.stage = pending.name if pending else None
        status.completion_time = None
        if phase is JobPhase.SUSPENDED:
            status.message = SUSPENDED_MESSAGE
            conditions((False, "Suspended", status.message), (False, "Suspended", ""), (False, "Suspended"),
                       (True, "Suspended"))
        elif phase is JobPhase.QUEUED:
            status.message = f"stage {status.stage} waits for admission by queue {queued}"
            conditions((False, "Queued", status.message), (False, "Queued", ""), (False, "Queued"),
                       (False, "Queued"))
        else:
            running = pending is not None and pending.phase is StagePhase.RUNNING
            status.message = f"stage {status.stage} " + ("running" if running else "pending")
            conditions((False, "Running", status.message), (False, "Running", ""), (False, "Running"),
                       (False, "Running"))
    if phase is not JobPhase.PENDING and (launched or any(e.start_time for e in stages)):
        status.start_time = status.start_time or min((e.start_time for e in stages if e.start_time), default=now)
