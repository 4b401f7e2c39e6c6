"""Stage `evaluate`: score the synthetic table's quality and privacy; write metrics, report and audit.

Compares like with like: the synthetic table against what the generator saw
(`pii/train` when the PII stage ran, else `prepare/train`), with the holdout
on the same footing (`pii/holdout`, else `prepare/holdout`) as non-members,
control and test set. PII replay alone reads the ORIGINAL values
(`prepare/train`, `prepare/holdout`) of the columns the PII stage replaced.
ε and δ come from `train/summary.json`. Writes `evaluate/metrics.json`
(every score with its raw statistic, parameters and sample sizes),
`evaluate/report.html` (one offline file) and `evaluate/audit.json`; the
summary carries SQS, DPS and their grades, which the drivers show as the
job's headline, and the release verdict: `released` and every gate of
spec.evaluation.gates (name, threshold, value, passed). When a gate fails the
stage still writes everything and returns `released: false`; the stage runner
then raises GateNotMetError (exit 4) after writing the summary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Optional

import pandas as pd

from safesynth.contract import AUDIT_KEY, METRICS_KEY, REPORT_KEY, SYNTHETIC_TABLE_KEY, summary_key
from safesynth.errors import ArtifactNotFoundError, BadInputError
from safesynth.progress import Progress
from safesynth.spec.models import EvaluationSpec, SafeSynthJobSpec, StageName
from safesynth.stages.inputs import input_prefix, read_json_if_present
from safesynth.store import ArtifactStore

if TYPE_CHECKING:
    from safesynth.metrics.context import PiiInputs

NAME = StageName.EVALUATE
READS = (
    "prepare/train.parquet", "prepare/holdout.parquet", "prepare/schema.json",
    "pii/train.parquet", "pii/holdout.parquet", "pii/schema.json", "pii/report.json",
    summary_key(StageName.TRAIN.value), SYNTHETIC_TABLE_KEY,
)
WRITES = (METRICS_KEY, REPORT_KEY, AUDIT_KEY)
_UPSTREAM = (StageName.PREPARE, StageName.PII, StageName.TRAIN, StageName.GENERATE)


@dataclass
class Inputs:
    """Everything evaluate reads, with where each table came from (`sources`) and what was missing (`notes`)."""

    real: pd.DataFrame
    holdout: Optional[pd.DataFrame]
    synthetic: pd.DataFrame
    schema: Optional[dict[str, Any]]
    pii: Optional[PiiInputs]
    pii_report: Optional[dict[str, Any]]
    train_summary: Optional[dict[str, Any]]
    stage_summaries: dict[str, dict[str, Any]]
    sources: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def check_columns(ev: EvaluationSpec, columns: list[str]) -> None:
    """spec.evaluation names only columns the table has (else exit 2 naming the field)."""
    known = set(columns)
    problems = []
    if ev.target is not None and ev.target not in known:
        problems.append(f"spec.evaluation.target: column {ev.target!r} is not in the training table")
    for field_name, names in (("quasiIdentifiers", ev.quasi_identifiers), ("sensitiveColumns", ev.sensitive_columns)):
        missing = [c for c in names if c not in known]
        if missing:
            problems.append(f"spec.evaluation.{field_name}: {', '.join(map(repr, missing))} not in the training table")
    if problems:
        raise BadInputError("; ".join(problems) + "; use column names as they appear after the PII stage")


def load_inputs(store: ArtifactStore) -> Inputs:
    """The tables and reports to score, pii/ over prepare/ (the same rule as train and generate)."""
    from safesynth.metrics.columns import kinds_from_schema

    if not store.exists(SYNTHETIC_TABLE_KEY):
        raise ArtifactNotFoundError(f"{store.url(SYNTHETIC_TABLE_KEY)} does not exist; run the generate stage first")
    for key in ("prepare/train.parquet", "prepare/holdout.parquet"):
        if not store.exists(key):
            raise ArtifactNotFoundError(f"{store.url(key)} does not exist; run the prepare stage first")
    original_train = store.read_table("prepare/train.parquet")
    original_holdout = store.read_table("prepare/holdout.parquet")
    pii_ran = input_prefix(store) == StageName.PII.value
    notes: list[str] = []
    sources = {"synthetic": SYNTHETIC_TABLE_KEY}
    if pii_ran:
        real = store.read_table("pii/train.parquet")
        sources["real"] = "pii/train.parquet"
        if store.exists("pii/holdout.parquet"):
            holdout = store.read_table("pii/holdout.parquet")
            sources["holdout"] = "pii/holdout.parquet"
        else:  # an older PII stage: compare on the columns it left, and say so
            holdout = original_holdout[[c for c in real.columns if c in original_holdout.columns]]
            sources["holdout"] = "prepare/holdout.parquet"
            notes.append("pii/holdout.parquet missing: the holdout has original values in PII columns")
    else:
        real, holdout = original_train, original_holdout
        sources.update(real="prepare/train.parquet", holdout="prepare/holdout.parquet")
    prepare_schema = read_json_if_present(store, "prepare/schema.json")
    schema = (read_json_if_present(store, "pii/schema.json") if pii_ran else None) or prepare_schema
    pii_report = read_json_if_present(store, "pii/report.json")
    pii = None
    if pii_ran or pii_report is not None:
        pii = pii_inputs(original_train, original_holdout, kinds_from_schema(prepare_schema or {}), pii_report,
                         replaced_train=real if pii_ran else None,
                         replaced_holdout=holdout if sources["holdout"] == "pii/holdout.parquet" else None)
    summaries = {s.value: store.read_json(summary_key(s.value)) for s in _UPSTREAM
                 if store.exists(summary_key(s.value))}
    return Inputs(real=real, holdout=holdout, synthetic=store.read_table(SYNTHETIC_TABLE_KEY), schema=schema, pii=pii,
                  pii_report=pii_report, train_summary=summaries.get(StageName.TRAIN.value),
                  stage_summaries=summaries, sources=sources, notes=notes)


def pii_inputs(original_train: pd.DataFrame, original_holdout: pd.DataFrame, original_kinds: Mapping[str, Any],
               pii_report: Optional[dict[str, Any]], *, replaced_train: Optional[pd.DataFrame],
               replaced_holdout: Optional[pd.DataFrame]) -> PiiInputs:
    """What PII replay needs: the original tables and which columns the PII stage replaced.

    The report names entity and action; the diff of original and replaced
    tables adds dropped columns (and, without a report, changed ones).
    """
    from safesynth.metrics.context import PiiInputs
    from safesynth.metrics.pii_replay import replaced_from_diff, replaced_from_report

    replaced = replaced_from_diff(original_train, replaced_train, original_kinds, changed=pii_report is None)
    replaced.update(replaced_from_report(pii_report or {}))
    free_text = sorted(c for c, info in replaced.items() if info.get("freeText"))
    return PiiInputs(original_train=original_train, original_holdout=original_holdout, replaced=replaced,
                     free_text=free_text, replaced_train=replaced_train, replaced_holdout=replaced_holdout)


def run(spec: SafeSynthJobSpec, store: ArtifactStore, progress: Progress) -> dict[str, Any]:
    from safesynth.audit import build_audit, dp_section
    from safesynth.metrics.columns import kinds_from_schema
    from safesynth.metrics.context import EvalOptions
    from safesynth.metrics.evaluation import evaluate
    from safesynth.metrics.gates import hipaa_from_audit
    from safesynth.report import render_report
    from safesynth.stages.runner import stage_spec_hash

    ev = spec.evaluation
    if not ev.enabled:
        return {"skipped": True, "reason": "spec.evaluation.enabled is false"}
    with progress.task("evaluate: read tables", total=None):
        inputs = load_inputs(store)
    check_columns(ev, [str(c) for c in inputs.real.columns])
    kinds = kinds_from_schema(inputs.schema) if inputs.schema else None
    options = EvalOptions(
        max_rows=ev.max_rows, seed=ev.seed if ev.seed is not None else spec.data.seed, target=ev.target,
        quasi_identifiers=tuple(ev.quasi_identifiers), sensitive_columns=tuple(ev.sensitive_columns),
        group_by=tuple(spec.data.group_by), order_by=spec.data.order_by,  # the sequence metrics run when set
    )
    dp = dp_section(spec, inputs.train_summary)
    evaluation = evaluate(inputs.real, inputs.synthetic, inputs.holdout, kinds=kinds, options=options,
                          pii=inputs.pii, dp=dp, progress=progress)
    prepare_summary = inputs.stage_summaries.get(StageName.PREPARE.value, {})
    audit = build_audit(
        evaluation=evaluation, spec=spec, spec_hash=stage_spec_hash(spec, NAME),
        pii_report=inputs.pii_report, replaced=inputs.pii.replaced if inputs.pii is not None else {},
        train_summary=inputs.train_summary, stage_summaries=inputs.stage_summaries,
        inputs={**inputs.sources, "inputSha256": prepare_summary.get("inputSha256"), "notes": inputs.notes,
                "columnWarnings": prepare_summary.get("warnings") or []},
    )
    hipaa_met, hipaa_reason = hipaa_from_audit(audit.get("hipaaSafeHarbor", {}), inputs.pii_report is not None)
    evaluation.apply_gates(ev.gates, hipaa_met=hipaa_met, hipaa_reason=hipaa_reason)
    audit["release"] = evaluation.release
    with progress.task("evaluate: write report", total=3) as advance:
        store.write_json(METRICS_KEY, evaluation.to_json())
        advance(1)
        store.write_json(AUDIT_KEY, audit)
        advance(1)
        store.write_text(REPORT_KEY, render_report(evaluation, audit, title="Synthetic data report",
                                                   sources={"run": store.uri}))
        advance(1)
    return {**evaluation.summary(), "epsilonSpent": dp.get("epsilonSpent"), "report": REPORT_KEY}
