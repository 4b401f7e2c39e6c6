"""The shape of `.status`: written by the operator on the CR and by
`safesynth run` to `status.json`, so both drivers report the same way.

Conditions follow metav1.Condition (type, status, reason, message,
lastTransitionTime, observedGeneration) so kstatus readers such as Flux and
Argo CD understand them. Summaries hold counts, scores and timings only.
"""

from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


# Bounds on the status lists: they keep the CRD's CEL cost estimates finite (an unbounded
# list makes the API server assume the largest list a request could hold).
MAX_STAGES = 16
MAX_CONDITIONS = 32


class StatusModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class JobPhase(str, Enum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    SUSPENDED = "Suspended"
    QUEUED = "Queued"  # the current stage's Job waits for admission by a queue (Kueue holds it suspended)


class StagePhase(str, Enum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    SKIPPED = "Skipped"  # finished earlier for the same spec hash
    FAILED = "Failed"


class Condition(StatusModel):
    type: str = Field(max_length=316)
    status: Literal["True", "False", "Unknown"]
    reason: str = Field(max_length=1024)
    message: str = Field("", max_length=32768)
    last_transition_time: str
    observed_generation: Optional[int] = Field(None, ge=0)


class PodCounts(StatusModel):
    """The stage Job's pod counters, as the Job controller reports them (a queued stage has none)."""

    active: int = 0
    ready: int = 0
    succeeded: int = 0
    failed: int = 0


class StageProgress(StatusModel):
    """How far a running stage is, from its own counted task (rows generated, steps trained)."""

    task: str = Field(description="What is being counted, as the stage names it.")
    done: int = Field(0, ge=0)
    total: Optional[int] = Field(None, ge=0)
    eta_seconds: Optional[float] = Field(None, ge=0, description="Estimated seconds left at the rate so far.")


class StageStatus(StatusModel):
    name: str
    phase: StagePhase = StagePhase.PENDING
    job_name: Optional[str] = None
    start_time: Optional[str] = None
    completion_time: Optional[str] = None
    attempts: int = 0
    reason: Optional[str] = Field(None, description="Why a failed stage failed (the error's reason, CamelCase).")
    message: Optional[str] = None
    pods: Optional[PodCounts] = None
    progress: Optional[StageProgress] = None
    summary: Optional[dict[str, Any]] = Field(None, json_schema_extra={"x-kubernetes-preserve-unknown-fields": True})


class ArtifactUris(StatusModel):
    run_uri: Optional[str] = None
    synthetic_table: Optional[str] = None
    report: Optional[str] = None


class Headline(StatusModel):
    """The numbers a user looks at first; also the printer columns."""

    sqs: Optional[float] = Field(None, description="Synthetic quality score, 0-10.")
    dps: Optional[float] = Field(None, description="Data privacy score, 0-10.")
    epsilon_spent: Optional[float] = Field(None, description="Differential-privacy epsilon spent; unset without DP.")
    rows_generated: Optional[int] = None


class JobStatus(StatusModel):
    phase: JobPhase = JobPhase.PENDING
    stage: Optional[str] = None
    message: Optional[str] = None
    observed_generation: Optional[int] = None
    start_time: Optional[str] = None
    completion_time: Optional[str] = None
    retries: int = Field(0, ge=0, description="Automatic retries from a failed stage so far (spec.backoffLimit).")
    next_retry_time: Optional[str] = Field(
        None, description="When the failed stage is retried (exponential back-off); unset when none is due.")
    # List-map types (keyed by name and type) let server-side apply and strategic merges treat
    # entries as a map, as the Kubernetes API conventions ask of conditions.
    stages: list[StageStatus] = Field(
        default_factory=list, max_length=MAX_STAGES,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    conditions: list[Condition] = Field(
        default_factory=list, max_length=MAX_CONDITIONS,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    artifacts: ArtifactUris = Field(default_factory=ArtifactUris)
    headline: Headline = Field(default_factory=Headline)


def now_iso() -> str:
    """RFC 3339 UTC with a Z, as Kubernetes writes timestamps. The one place that reads the clock;
    shells call it and pass the result into the pure functions below."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def set_condition(
    conditions: list[Condition],
    type_: str,
    status: bool,
    reason: str,
    message: str = "",
    generation: Optional[int] = None,
    *,
    now: str,
) -> list[Condition]:
    """Upsert a condition; lastTransitionTime moves (to `now`) only when the status flips.

    Pure: the caller passes the time, so the operator's decisions can be replayed in tests.
    """
    value: Literal["True", "False"] = "True" if status else "False"

    def condition(since: str) -> Condition:
        return Condition(type=type_, status=value, reason=reason, message=message, last_transition_time=since,
                         observed_generation=generation)

    out = [c if c.type != type_ else condition(c.last_transition_time if c.status == value else now)
           for c in conditions]
    if not any(c.type == type_ for c in conditions):
        out.append(condition(now))
    return out


def set_failed(
    conditions: list[Condition],
    failed: bool,
    reason: str,
    message: str = "",
    generation: Optional[int] = None,
    *,
    now: str,
) -> list[Condition]:
    """Failed, and Stalled with the same value: Argo CD and people read Failed; Flux's kstatus reads only
    Ready/Reconciling/Stalled, and without Stalled a failed job looks "in progress" until Flux times out."""
    out = set_condition(conditions, "Failed", failed, reason, message, generation, now=now)
    return set_condition(out, "Stalled", failed, reason, message, generation, now=now)
