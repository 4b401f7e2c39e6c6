"""Run one stage under the stage contract, whoever calls it.

The contract (its names and numbers are in safesynth.contract): a stage writes
only under `<run>/<stage>/`, writes `summary.json` last as its commit marker,
and is skipped only when that summary carries the spec hash of the current spec
AND the identity of the inputs it read is unchanged: the input table's content
hash or S3 ETag/size/LastModified for prepare (its `input_identity`), the hashes
of the upstream stages' summaries for every later stage. So a new export at the
same path re-runs prepare, and each later stage follows because the summary it
read changed. Why a stage ran is in its summary (`ranBecause`). A failed stage
leaves no partial artifacts behind: its folder is removed before the error
propagates (and a failing removal, say in an S3 outage, never hides the error).
`safesynth stage` (a pod) and `safesynth run` (the local driver) both call
`execute_stage`, so resume works the same on a laptop and on Kubernetes.

Release gates (the one exception to "a failed stage leaves nothing"): a stage
whose result says `released: false` (evaluate, when a gate in
spec.evaluation.gates failed) finished its work, so its artifacts and summary
are written like any other's, and then `execute_stage` raises GateNotMetError
(exit 4, never retried): the report stays for inspection, the job still fails.
A re-run with the same spec and inputs skips the stage and raises the same
error from the stored summary, so a failed gate never turns into a pass by
running again; changing spec.evaluation (a gate's threshold) re-evaluates.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import safesynth
from safesynth.contract import (
    MESSAGE_MAX,
    SUMMARY_FILE,
    TERMINATION_LIMIT,
    shard_prefix,
    shard_summary_key,
    summary_key,
)
from safesynth.errors import BadInputError, GateNotMetError, SafeSynthError
from safesynth.progress import Progress
from safesynth.spec import sections as spec_sections
from safesynth.spec.models import STAGE_ORDER, SafeSynthJobSpec, StageName
from safesynth.spec.status import now_iso
from safesynth.store import ArtifactStore


def sections_for(stage: StageName) -> tuple[str, ...]:
    """Sections of the spec that `stage`'s output depends on: its own and every earlier stage's, from the one
    table in safesynth.spec.sections. The shared ones (artifacts) and resources change where and how a stage
    runs, never what it writes, so they do not invalidate its output."""
    return spec_sections.output_sections(stage)


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def stage_spec_hash(spec: SafeSynthJobSpec, stage: StageName) -> str:
    """sha256 of the canonical JSON of the sections `stage` depends on."""
    wire = spec.model_dump(by_alias=True, mode="json")
    return _digest({section: wire[section] for section in sections_for(stage)})


def section_hashes(spec: SafeSynthJobSpec, stage: StageName) -> dict[str, str]:
    """One hash per section `stage` depends on, so a re-run can say which section changed."""
    wire = spec.model_dump(by_alias=True, mode="json")
    return {section: _digest(wire[section]) for section in sections_for(stage)}


def upstream_identity(store: ArtifactStore, stage: StageName) -> dict[str, str]:
    """sha256 of each earlier stage's summary.json that exists: a summary is rewritten whenever its stage runs,
    so an upstream re-run changes this, and an upstream skip does not."""
    found = {}
    for upstream in STAGE_ORDER[: STAGE_ORDER.index(stage)]:
        key = summary_key(upstream.value)
        if store.exists(key):
            found[key] = hashlib.sha256(store.read_bytes(key)).hexdigest()
    return found


def stage_inputs(module: ModuleType, spec: SafeSynthJobSpec, store: ArtifactStore) -> dict[str, Any]:
    """The identity of what the stage reads: its own `input_identity(spec, store)` when it reads something
    outside the run (prepare: spec.data.uri), else the upstream summaries' hashes."""
    own = getattr(module, "input_identity", None)
    if own is not None:
        return dict(own(spec, store))
    return upstream_identity(store, module.NAME)


def rerun_reason(previous: dict[str, Any] | None, spec_hash: str, sections: dict[str, str],
                 inputs: dict[str, Any], force: bool) -> str | None:
    """Why the stage must run, or None when its finished output still holds (pure: the skip decision)."""
    if force:
        return "forced (--force)"
    if previous is None:
        return "no finished run"
    if previous.get("specHash") != spec_hash:
        before = previous.get("specSections") or {}
        changed = [f"spec.{s}" for s, h in sections.items() if before.get(s) != h]
        return "spec changed" + (f": {', '.join(changed)}" if before and changed else "")
    before_inputs = previous.get("inputs")
    if before_inputs is None:
        return "input identity not recorded by the earlier run"
    if before_inputs != inputs:
        changed = sorted(k for k in set(before_inputs) | set(inputs) if before_inputs.get(k) != inputs.get(k))
        return f"input changed: {', '.join(changed)}"
    return None


@dataclass(frozen=True)
class StageOutcome:
    """What `execute_stage` did: the summary it wrote, or found and kept (`skipped`), and why it ran."""

    stage: StageName
    summary: dict[str, Any]
    skipped: bool
    reason: str | None = None  # why it ran (rerun_reason); None when skipped


def previous_summary(store: ArtifactStore, stage: StageName) -> dict[str, Any] | None:
    """The stage's summary from an earlier finished run, else None."""
    key = summary_key(stage.value)
    return store.read_json(key) if store.exists(key) else None


def finished_summary(store: ArtifactStore, stage: StageName, spec_hash: str) -> dict[str, Any] | None:
    """The stage's summary when it finished for this spec hash, else None (spec only: see rerun_reason)."""
    summary = previous_summary(store, stage)
    return summary if summary is not None and summary.get("specHash") == spec_hash else None


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
    spec_hash, sections = stage_spec_hash(spec, stage), section_hashes(spec, stage)
    inputs = stage_inputs(module, spec, store)  # before any download: a HEAD on S3
    previous = None if force else previous_summary(store, stage)
    reason = rerun_reason(previous, spec_hash, sections, inputs, force)
    if reason is None and previous is not None:
        raise_if_not_released(stage, previous)
        return StageOutcome(stage, previous, skipped=True)
    check_shards_finished(module, spec, store, force)
    keep = kept_prefixes(module, spec)
    # Remove the old commit marker first: if this run dies half-way, nobody
    # may mistake the old summary for the new artifacts.
    _delete_under(store, f"{stage.value}/", keep)
    started, t0 = now_iso(), time.monotonic()
    try:
        result = module.run(spec, store, progress)
    except BaseException:
        _remove_partial(store, stage, keep)
        raise
    summary = stage_summary(stage, spec_hash, sections, inputs, reason, started, t0, result)
    store.write_json(summary_key(stage.value), summary)
    raise_if_not_released(stage, summary)
    return StageOutcome(stage, summary, skipped=False, reason=reason)


def raise_if_not_released(stage: StageName, summary: dict[str, Any]) -> None:
    """GateNotMetError when a finished stage's summary says `released: false`; its message names each failed gate."""
    if summary.get("released") is not False:
        return
    failed = [g for g in summary.get("gates", []) if g.get("passed") is False]
    words = "; ".join(f"{g.get('name')}: {g.get('reason')}" for g in failed) or "a release gate failed"
    raise GateNotMetError(f"{stage.value}: release gates not met ({words}); the artifacts under {stage.value}/ "
                          "stay for inspection; improve the generator or change spec.evaluation.gates", summary)


def _remove_partial(store: ArtifactStore, stage: StageName, keep: tuple[str, ...] = (),
                    prefix: str | None = None) -> None:
    """Remove a failed stage's folder (a failed shard's: `prefix`). If that fails too (the store is down), the
    stage's own error is the one to report: no summary was written, so the leftovers are never taken for a
    finished stage."""
    folder = prefix or f"{stage.value}/"
    try:
        _delete_under(store, folder, keep)
    except SafeSynthError as cleanup:
        logging.getLogger(__name__).warning("could not remove the failed stage's partial artifacts under %s (%s)",
                                            store.url(folder), cleanup.reason)


def _delete_under(store: ArtifactStore, prefix: str, keep: tuple[str, ...]) -> None:
    """`store.delete_prefix(prefix)`, sparing keys under any of `keep` (a sharded stage's finished shards);
    summary.json goes first, so an interrupted delete never leaves a commit marker over partial artifacts."""
    if not keep:
        store.delete_prefix(prefix)
        return
    keys = [k for k in store.list(prefix) if not k.startswith(keep)]
    for key in sorted(keys, key=lambda k: not k.endswith(SUMMARY_FILE)):
        store.delete(key)


# ------------------------------------------------------------------ shards (spec.generation.shards > 1)
#
# A sharded stage module also has `shard_count(spec)`, `kept_on_rerun(spec)` and
# `run_shard(spec, store, progress, index, count)`. Each shard runs under the same contract
# as a stage, one level down: it writes only under `<stage>/shards/<index>/`, its own
# summary.json last, and is skipped when that summary holds this spec hash and the same
# upstream inputs. A shard that runs first removes the stage's merged summary (its commit
# marker), so a merge made from older shards is never taken as current. The stage itself
# (`execute_stage`) is then the merge: it refuses to run until every shard has finished
# for this spec, and its re-runs keep the shards' folders.


class ShardsNotFinishedError(SafeSynthError):
    """The merge of a sharded stage ran before all its shards finished for this spec (exit 1: retryable)."""

    reason = "ShardsNotFinished"


def shard_count(module: ModuleType, spec: SafeSynthJobSpec) -> int:
    """How many shards `module` runs in for `spec` (1 for a stage that does not shard)."""
    counter = getattr(module, "shard_count", None)
    return int(counter(spec)) if counter is not None else 1


def kept_prefixes(module: ModuleType, spec: SafeSynthJobSpec) -> tuple[str, ...]:
    keep = getattr(module, "kept_on_rerun", None)
    return tuple(keep(spec)) if keep is not None else ()


def _shard_reason(module: ModuleType, spec: SafeSynthJobSpec, store: ArtifactStore, index: int,
                  force: bool) -> tuple[str | None, dict[str, Any] | None, dict[str, Any]]:
    """(why shard `index` must run or None, its previous summary, the inputs it reads)."""
    stage: StageName = module.NAME
    key = shard_summary_key(stage.value, index)
    previous = None if force or not store.exists(key) else store.read_json(key)
    inputs = upstream_identity(store, stage)
    reason = rerun_reason(previous, stage_spec_hash(spec, stage), section_hashes(spec, stage), inputs, force)
    return reason, previous, inputs


def pending_shards(module: ModuleType, spec: SafeSynthJobSpec, store: ArtifactStore,
                   force: bool = False) -> list[int]:
    """Indexes of the shards that must (re-)run for this spec: what the local driver launches."""
    return [i for i in range(shard_count(module, spec))
            if _shard_reason(module, spec, store, i, force)[0] is not None]


def stage_is_current(module: ModuleType, spec: SafeSynthJobSpec, store: ArtifactStore) -> bool:
    """Whether `execute_stage` would skip the stage (its summary holds this spec and these inputs)."""
    stage: StageName = module.NAME
    reason = rerun_reason(previous_summary(store, stage), stage_spec_hash(spec, stage),
                          section_hashes(spec, stage), stage_inputs(module, spec, store), False)
    return reason is None


def check_shards_finished(module: ModuleType, spec: SafeSynthJobSpec, store: ArtifactStore, force: bool) -> None:
    """Raise ShardsNotFinishedError, naming them, when some shard of a sharded stage is not finished."""
    count = shard_count(module, spec)
    if count <= 1:
        return
    missing = pending_shards(module, spec, store)
    if missing:
        stage: StageName = module.NAME
        raise ShardsNotFinishedError(
            f"{stage.value}: shard(s) {', '.join(map(str, missing))} of {count} not finished for this spec; run "
            f"`safesynth stage {stage.value} --shard INDEX/{count}` for each first (on a cluster the Indexed Job "
            f"does), then the stage merges them")


def stage_summary(stage: StageName, spec_hash: str, sections: Any, inputs: Any, reason: Any, started: str,
                  t0: float, result: dict[str, Any]) -> dict[str, Any]:
    """The commit marker's contents: what ran, for which spec and inputs, why, and when; then the stage's own."""
    return {
        "stage": stage.value,
        "specHash": spec_hash,
        "specSections": sections,
        "inputs": inputs,
        "ranBecause": reason,
        "version": safesynth.__version__,
        "startedAt": started,
        "finishedAt": now_iso(),
        "durationSeconds": round(time.monotonic() - t0, 3),
        **result,
    }


def execute_shard(module: ModuleType, spec: SafeSynthJobSpec, store: ArtifactStore, progress: Progress,
                  index: int, count: int, *, force: bool = False) -> StageOutcome:
    """Run shard `index` of `count` of a sharded stage under the contract (see above); the outcome's summary
    is the shard's."""
    stage: StageName = module.NAME
    expected = shard_count(module, spec)
    if count != expected or not 0 <= index < count:
        raise BadInputError(f"--shard {index}/{count}: spec.generation.shards is {expected}, so the shard must be "
                            f"INDEX/{expected} with INDEX in 0..{expected - 1}")
    reason, previous, inputs = _shard_reason(module, spec, store, index, force)
    if reason is None and previous is not None:
        return StageOutcome(stage, previous, skipped=True)
    prefix = shard_prefix(stage.value, index)
    store.delete(summary_key(stage.value))  # the merged result no longer stands once a shard changes
    store.delete_prefix(prefix)
    started, t0 = now_iso(), time.monotonic()
    try:
        result = module.run_shard(spec, store, progress, index, count)
    except BaseException:
        _remove_partial(store, stage, prefix=prefix)
        raise
    summary = stage_summary(stage, stage_spec_hash(spec, stage), section_hashes(spec, stage), inputs, reason,
                            started, t0, result)
    store.write_json(shard_summary_key(stage.value, index), summary)
    return StageOutcome(stage, summary, skipped=False, reason=reason)


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
