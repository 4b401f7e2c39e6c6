"""Run every registered metric on a real/synthetic(/holdout) triple and compose SQS and DPS.

Shared by the evaluate stage (tables from the run's store) and the
`safesynth evaluate` command (any two tables). Pure with respect to storage:
tables in, an `Evaluation` out; callers write metrics.json and the report.
"""

from __future__ import annotations

import math
import platform
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

import pandas as pd

from safesynth.metrics.base import Group, MetricResult, run_metric
from safesynth.metrics.columns import TABULAR, Kind, align, infer_kinds
from safesynth.errors import BadInputError
from safesynth.metrics.context import EvalContext, EvalOptions, PiiInputs
from safesynth.metrics.gates import check_gates, verdict
from safesynth.metrics.registry import all_metrics
from safesynth.metrics.scores import Composite, privacy_composite, quality_composite
from safesynth.progress import LogProgress, Progress
from safesynth.spec.models import GatesSpec

METRICS_FORMAT = 1

_EXCLUDED = {
    Kind.IDENTIFIER: "identifier (unique per row): not comparable between tables; checked only for PII replay",
    Kind.EMPTY: "empty in the real table",
}


@dataclass
class Evaluation:
    results: dict[str, MetricResult]
    sqs: Composite
    dps: Composite
    kinds: dict[str, Kind]
    rows: dict[str, int]
    options: EvalOptions
    dp: Optional[dict[str, Any]] = None
    columns: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    release: Optional[dict[str, Any]] = None  # gates.verdict(...) once apply_gates ran

    def apply_gates(self, gates: GatesSpec, *, hipaa_met: Optional[bool] = None, hipaa_reason: str = "") -> bool:
        """Check the release gates (gates.check_gates) and keep the verdict; True when released."""
        self.release = verdict(check_gates(gates, self, hipaa_met=hipaa_met, hipaa_reason=hipaa_reason),
                               enabled=gates.enabled)
        return bool(self.release["released"])

    def summary(self) -> dict[str, Any]:
        """The stage summary: headline numbers and counts, never data values."""
        def r(x: float) -> Optional[float]:
            return None if not math.isfinite(x) else round(x, 2)

        return {
            "sqs": r(self.sqs.value), "sqsGrade": self.sqs.grade,
            "dps": r(self.dps.value), "dpsGrade": self.dps.grade,
            "sqsComplete": self.sqs.complete, "dpsComplete": self.dps.complete,
            "metricsOk": sum(1 for m in self.results.values() if m.ok),
            "metricsFailed": sorted(m.name for m in self.results.values() if m.status.value == "error"),
            "rowsEvaluated": dict(self.rows),
            "columnsEvaluated": len(self.kinds),
            "evaluationSeconds": round(self.seconds, 2),
            "sqsReason": None if math.isfinite(self.sqs.value) else _why_missing(self.sqs),
            "dpsReason": None if math.isfinite(self.dps.value) else _why_missing(self.dps),
            "detection": _score(self.results.get("detection")),
            "utilityRatio": _stat(self.results.get("ml_utility"), "ratio"),
            **({k: self.release[k] for k in ("released", "gates", "failedGates", "verdict")}
               if self.release is not None else {}),
        }

    def to_json(self) -> dict[str, Any]:
        """metrics.json: every score with its raw statistic, parameters, sample sizes and notes."""
        return {
            "format": METRICS_FORMAT,
            "sqs": self.sqs.to_json(),
            "dps": self.dps.to_json(),
            "metrics": {name: res.to_json() for name, res in self.results.items()},
            "columns": self.columns,
            "rows": dict(self.rows),
            "options": {"maxRows": self.options.max_rows, "seed": self.options.seed,
                        "target": self.options.target, "quasiIdentifiers": list(self.options.quasi_identifiers),
                        "sensitiveColumns": list(self.options.sensitive_columns),
                        "textMaxValues": self.options.text_max_values,
                        "groupBy": list(self.options.group_by), "orderBy": self.options.order_by},
            "differentialPrivacy": self.dp,
            "release": self.release,
            "seconds": round(self.seconds, 3),
            "python": platform.python_version(),
        }


def _why_missing(comp: Composite) -> str:
    """'n/a' in words: why a composite has no value (each component's reason)."""
    reasons = sorted({c.reason for c in comp.components if c.reason and not c.reason.endswith("no free-text columns")})
    return "; ".join(reasons) or "no component applies"


def _score(res: Optional[MetricResult]) -> Optional[float]:
    return round(res.score, 2) if res is not None and res.ok else None


def _stat(res: Optional[MetricResult], key: str) -> Optional[float]:
    v = res.statistic.get(key) if res is not None and res.ok else None
    return round(float(v), 4) if isinstance(v, (int, float)) and math.isfinite(v) else None


def check_column_sets(real: pd.DataFrame, other: pd.DataFrame, name: str) -> None:
    """`other` has exactly the real table's columns, else exit 2 naming the missing and extra ones.

    Scoring a table that lacks columns would grade what is left (a table missing 3 of 4 columns
    once scored 0.97 'Excellent' on the SDMetrics figures); column names are not data values.
    """
    real_cols, other_cols = [str(c) for c in real.columns], [str(c) for c in other.columns]
    missing = [c for c in real_cols if c not in set(other_cols)]
    extra = [c for c in other_cols if c not in set(real_cols)]
    if missing or extra:
        parts = ([f"missing {', '.join(map(repr, missing))}"] if missing else []) + \
                ([f"not in the real table {', '.join(map(repr, extra))}"] if extra else [])
        raise BadInputError(f"the {name} table's columns differ from the real table's: {'; '.join(parts)}; "
                            f"give a {name} table with the same columns")


def column_table(ctx: EvalContext, results: Mapping[str, MetricResult]) -> list[dict[str, Any]]:
    """Per-column overview for the report: kind, nulls, distinct counts and the per-column scores."""
    dist = {r["column"]: r for r in (results["column_distribution"].details or [])} \
        if "column_distribution" in results and results["column_distribution"].ok else {}
    sdm = results.get("sdmetrics_quality")
    shapes = {r["column"]: r for r in (sdm.details or {}).get("shapes", [])} if sdm is not None and sdm.ok else {}
    out = []
    for c, k in ctx.kinds.items():
        row: dict[str, Any] = {
            "column": c, "kind": k.value,
            "nullShareReal": float(ctx.real[c].isna().mean()) if len(ctx.real) else None,
            "nullShareSynthetic": float(ctx.synthetic[c].isna().mean()) if len(ctx.synthetic) else None,
            "distinctReal": int(ctx.real[c].nunique(dropna=True)),
            "distinctSynthetic": int(ctx.synthetic[c].nunique(dropna=True)),
            "jsDistance": dist.get(c, {}).get("jsDistance"),
            "sdmetric": shapes.get(c, {}).get("metric"),
            "sdmetricScore": shapes.get(c, {}).get("score"),
            "excluded": _EXCLUDED.get(k),
        }
        if k is Kind.TEXT:
            row["excluded"] = "free text: scored by text structure and text semantic similarity"
        if c in ctx.options.group_by:
            row["excluded"] = "entity key (spec.data.groupBy): the synthetic table has fresh keys; entities are " \
                              "scored by the sequence metrics"
        out.append(row)
    return out


def evaluate(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: Optional[pd.DataFrame] = None,
    *,
    kinds: Optional[Mapping[str, Kind]] = None,
    options: Optional[EvalOptions] = None,
    pii: Optional[PiiInputs] = None,
    dp: Optional[dict[str, Any]] = None,
    progress: Optional[Progress] = None,
) -> Evaluation:
    """Score `synthetic` against `real` (what the generator saw) and `holdout` (what it never saw)."""
    check_column_sets(real, synthetic, "synthetic")
    t0 = time.monotonic()
    progress = progress or LogProgress()
    options = options or EvalOptions()
    unknown = [c for c in real.columns if str(c) not in (kinds or {})]
    inferred = infer_kinds(real[unknown]) if unknown else {}  # prepare's rules, only where no schema says
    kinds = {str(c): (kinds or {}).get(str(c)) or inferred[str(c)] for c in real.columns}
    # Entity keys name entities (the synthetic table has fresh ones): never compared as values.
    kinds.update({c: Kind.IDENTIFIER for c in options.group_by if c in kinds})
    tables = align({"real": real, "synthetic": synthetic, "holdout": holdout}, kinds)
    ctx = EvalContext(real=tables["real"], synthetic=tables["synthetic"], holdout=tables["holdout"],
                      kinds=kinds, options=options, pii=pii, dp=dp,
                      synthetic_non_null={str(c): int(synthetic[c].notna().sum()) for c in synthetic.columns})
    results: dict[str, MetricResult] = {}
    metrics = all_metrics(grouped=bool(options.group_by))
    with progress.task("evaluate: metrics", total=len(metrics)) as advance:
        for metric in metrics:
            results[metric.name] = run_metric(metric, ctx)
            advance(1)
    n_tab = sum(1 for k in kinds.values() if k in TABULAR)
    n_text = sum(1 for k in kinds.values() if k is Kind.TEXT)
    return Evaluation(
        results=results,
        sqs=quality_composite(results, n_tab, n_text),
        dps=privacy_composite(results),
        kinds=dict(kinds),
        rows={"real": len(real), "synthetic": len(synthetic), "holdout": 0 if holdout is None else len(holdout)},
        options=options,
        dp=dp,
        columns=column_table(ctx, results),
        seconds=time.monotonic() - t0,
    )


def groups(results: Mapping[str, MetricResult]) -> dict[str, list[MetricResult]]:
    out: dict[str, list[MetricResult]] = {g.value: [] for g in Group}
    for r in results.values():
        out[r.group.value].append(r)
    return out
