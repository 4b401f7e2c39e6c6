"""Run one stage under the stage contract, whoever calls it.

The contract (its names and numbers are in safesynth.contract): a stage writes
only under `<run>/<stage>/`, writes `summary.json` last as its commit marker,
and is skipped when that summary carries the spec hash of the current spec. A failed stage leaves no
partial artifacts behind: its folder is removed before the error propagates.
`safesynth stage` (a pod) and `safesynth run` (the local driver) both call
`execute_stage`, so resume works the same on a laptop and on Kubernetes.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import safesynth
from safesynth.contract import MESSAGE_MAX, TERMINATION_LIMIT, summary_key
from safesynth.errors import SafeSynthError
from safesynth.progress import Progress
from safesynth.spec.models import STAGE_ORDER, SafeSynthJobSpec, StageName
from safesynth.spec.status import now_iso
from safesynth.store import ArtifactStore

# The spec sections each stage's output depends on, its own and its inputs'.
# Sections outside these (artifacts, resources, suspend) change where and how
# a stage runs, never what it writes, so they do not invalidate its output.
_SECTIONS: dict[StageName, tuple[str, ...]] = {
    StageName.PREPARE: ("data",),
    StageName.PII: ("pii",),
    StageName.TRAIN: ("training", "privacy"),
    StageName.GENERATE: ("generation",),
    StageName.EVALUATE: ("evaluation",),
}


def sections_for(stage: StageName) -> tuple[str, ...]:
    """Sections of the spec that `stage` and every stage before it read."""
    upto = STAGE_ORDER[: STAGE_ORDER.index(stage) + 1]
    return tuple(s for st in upto for s in _SECTIONS[st])


def stage_spec_hash(spec: SafeSynthJobSpec, stage: StageName) -> str:
    """sha256 of the canonical JSON of the sections `stage` depends on."""
    wire = spec.model_dump(by_alias=True, mode="json")
    relevant = {section: wire[section] for section in sections_for(stage)}
    canonical = json.dumps(relevant, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class StageOutcome:
    """What `execute_stage` did: the summary it wrote, or found and kept (`skipped`)."""

    stage: StageName
    summary: dict[str, Any]
    skipped: bool


def finished_summary(store: ArtifactStore, stage: StageName, spec_hash: str) -> dict[str, Any] | None:
    """The stage's summary when it finished for this spec hash, else None."""
    key = summary_key(stage.value)
    if not store.exists(key):
        return None
    summary = store.read_json(key)
    return summary if summary.get("specHash") == spec_hash else None


def execute_stage(
    module: ModuleType,
    spec: SafeSynthJobSpec,
    store: ArtifactStore,
    progress: Progress,
    *,
    force: bool = False,
) -> StageOutcome:
    """Run `module.run(spec, store, progress)` under the contract."""
    stage: StageName = module.NAME
    spec_hash = stage_spec_hash(spec, stage)
    if not force:
        done = finished_summary(store, stage, spec_hash)
        if done is not None:
            return StageOutcome(stage, done, skipped=True)
    # Remove the old commit marker first: if this run dies half-way, nobody
    # may mistake the old summary for the new artifacts.
    store.delete_prefix(f"{stage.value}/")
    started, t0 = now_iso(), time.monotonic()
    try:
        result = module.run(spec, store, progress)
    except BaseException:
        store.delete_prefix(f"{stage.value}/")
        raise
    summary = {
        "stage": stage.value,
        "specHash": spec_hash,
        "version": safesynth.__version__,
        "startedAt": started,
        "finishedAt": now_iso(),
        "durationSeconds": round(time.monotonic() - t0, 3),
        **result,
    }
    store.write_json(summary_key(stage.value), summary)
    return StageOutcome(stage, summary, skipped=False)


def termination_message(summary: dict[str, Any]) -> str:
    """Compact JSON that fits the 4 KiB termination message; nested detail is dropped first."""
    text = json.dumps(summary, separators=(",", ":"), sort_keys=True, default=str)
    if len(text.encode()) <= TERMINATION_LIMIT:
        return text
    flat = {k: v for k, v in summary.items() if isinstance(v, (str, int, float, bool)) or v is None}
    flat["truncated"] = True
    text = json.dumps(flat, separators=(",", ":"), sort_keys=True)
    return text.encode()[:TERMINATION_LIMIT].decode(errors="ignore")


def error_summary(stage: StageName, err: BaseException) -> dict[str, Any]:
    """What a failed stage reports: reason and exit code. Our messages carry no data values."""
    if isinstance(err, SafeSynthError):
        return {"stage": stage.value, "error": err.reason, "exitCode": err.exit_code,
                "message": str(err)[:MESSAGE_MAX]}
    return {"stage": stage.value, "error": type(err).__name__, "exitCode": 1}
