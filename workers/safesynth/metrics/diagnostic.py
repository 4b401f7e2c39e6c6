"""Structural checks, after SDMetrics 0.32's DiagnosticReport: is the synthetic table well formed?

Data validity, per column (share of the synthetic column's non-null values that pass, 0–1):
  BoundaryAdherence  (numeric, date): within the real column's [min, max];
  CategoryAdherence  (categorical, boolean): a category the real column has;
  KeyUniqueness      (identifier): distinct values / values, as a key must be unique.
Data structure: the synthetic table has the real table's columns (a mismatch is
rejected before any metric runs, evaluation.check_column_sets) and each column
holds values of the real column's kind: KindAdherence = non-null values after
coercion / non-null values before (values that do not parse become nulls).
Score = mean(Data Validity, Data Structure), each the mean of its checks
(SDMetrics' Diagnostic score on 0–1). Free text is not checked here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from safesynth.metrics.base import Group, Metric, MetricResult, NotApplicable
from safesynth.metrics.columns import CONTINUOUS, DISCRETE, Kind, canonical, to_float
from safesynth.metrics.context import EvalContext


class Diagnostic(Metric):
    name = "diagnostic"
    title = "Structure and validity (SDMetrics-style diagnostic)"
    group = Group.ALONGSIDE
    min_value, max_value = 0.0, 1.0
    explanation = ("Checks that the synthetic table is well formed: values within the real ranges, only categories "
                   "the real table has, unique keys, and values of each column's kind. 1.0 means every check passes.")
    advice = ("Values out of range or unknown categories usually mean the generator needs more training or the "
              "column's kind or domain should be declared in spec.data.columns.")

    def compute(self, ctx: EvalContext) -> MetricResult:
        rows: list[dict[str, Any]] = []
        for c, kind in ctx.kinds.items():
            syn, real = ctx.synthetic[c], ctx.real[c]
            present = syn.notna()
            if not present.any():
                continue
            if kind in CONTINUOUS:
                r, s = to_float(real), to_float(syn[present])
                r = r[np.isfinite(r)]
                if r.size:
                    rows.append({"column": c, "check": "BoundaryAdherence",
                                 "score": float(np.mean((s >= r.min()) & (s <= r.max())))})
            elif kind in DISCRETE:
                known = set(canonical(real[real.notna()]).unique())
                rows.append({"column": c, "check": "CategoryAdherence",
                             "score": float(canonical(syn[present]).isin(known).mean())})
            elif kind is Kind.IDENTIFIER:
                rows.append({"column": c, "check": "KeyUniqueness",
                             "score": float(syn[present].nunique() / int(present.sum()))})
        kind_rows = []
        for c, raw in ctx.synthetic_non_null.items():
            if raw and c in ctx.kinds:
                kind_rows.append({"column": c, "check": "KindAdherence",
                                  "score": min(1.0, float(ctx.synthetic[c].notna().sum()) / raw)})
        if not rows and not kind_rows:
            raise NotApplicable("no synthetic values to check")
        validity = float(np.mean([r["score"] for r in rows])) if rows else float("nan")
        structure = float(np.mean([r["score"] for r in kind_rows])) if kind_rows else 1.0
        parts = [x for x in (validity, structure) if np.isfinite(x)]
        details = sorted(rows + kind_rows, key=lambda r: (r["score"], r["column"]))
        return self.result(
            float(np.mean(parts)),
            statistic={"dataValidity": validity, "dataStructure": structure,
                       "columnsBelowOne": sorted({r["column"] for r in details if r["score"] < 1.0})},
            params={"checks": len(details)},
            details=details,
        )
