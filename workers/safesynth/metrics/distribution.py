"""Column distribution stability: per column, how far the synthetic distribution is from the real one.

Statistic: Jensen–Shannon distance (base 2) per column, numbers and dates on
shared equal-width bins over the combined range (20, fewer for under 400 rows:
divergence.bins_for), categories on their
frequencies, nulls as one more bin. Score: the mean distance through the
reference product's curve (scores.distribution_score). Every row is used.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from safesynth.metrics import scores
from safesynth.metrics.base import Group, Metric, MetricResult, NotApplicable
from safesynth.metrics.columns import CONTINUOUS, NULL_TOKEN, canonical, to_float
from safesynth.metrics.context import EvalContext
from safesynth.metrics.divergence import bins_for, category_counts, js_distance, numeric_histograms

MIN_LABEL_COUNT = 5  # categories rarer than this in the real table are not named in the report's charts
MAX_CHART_CATEGORIES = 12


class ColumnDistribution(Metric):
    name = "column_distribution"
    title = "Column distribution stability"
    group = Group.QUALITY
    explanation = ("Compares each column's distribution in the synthetic table with the real one "
                   "(Jensen–Shannon distance: 0 identical, 1 disjoint).")
    advice = ("Look at the columns with the largest distance. Train longer or with more data; for numeric "
              "columns with long tails consider a log transform before training; check that the generator "
              "did not collapse rare categories.")

    def compute(self, ctx: EvalContext) -> MetricResult:
        cols = ctx.tabular
        if not cols:
            raise NotApplicable("no numeric, date, categorical or boolean columns")
        rows, charts = [], {}
        for c in cols:
            d, chart = column_js(ctx.real[c], ctx.synthetic[c], continuous=ctx.kinds[c] in CONTINUOUS)
            rows.append({"column": c, "kind": ctx.kinds[c].value, "jsDistance": d,
                         "nullShareReal": float(ctx.real[c].isna().mean()),
                         "nullShareSynthetic": float(ctx.synthetic[c].isna().mean()) if len(ctx.synthetic) else 1.0})
            charts[c] = chart
        mean = float(np.mean([r["jsDistance"] for r in rows]))
        return self.result(
            scores.distribution_score(mean),
            statistic={"meanJsDistance": mean, "maxJsDistance": float(max(r["jsDistance"] for r in rows))},
            params={"bins": bins_for(len(ctx.real), len(ctx.synthetic)), "base": 2, "columns": len(cols), "realRows": len(ctx.real),
                    "syntheticRows": len(ctx.synthetic)},
            details=rows,
            visual={"histograms": charts},
        )


def column_js(real: pd.Series, synthetic: pd.Series, *, continuous: bool) -> tuple[float, dict[str, Any]]:
    """JS distance of one column and the chart data for it (shares per bin or category)."""
    if continuous:
        a, b = to_float(real), to_float(synthetic)
        ca, cb, edges = numeric_histograms(a, b, bins_for(len(a), len(b)))
        d = js_distance(ca, cb)
        chart = {"type": "numeric", "edges": [] if edges is None else edges.tolist(),
                 "real": _shares(ca[:-1], ca.sum()), "synthetic": _shares(cb[:-1], cb.sum()),
                 "nullReal": _share(ca[-1], ca.sum()), "nullSynthetic": _share(cb[-1], cb.sum()),
                 "datetime": bool(pd.api.types.is_datetime64_any_dtype(real))}
        return d, chart
    labels, ca, cb = category_counts(canonical(real), canonical(synthetic))
    d = js_distance(ca, cb)
    # Name only categories common enough in the real table; the rest are pooled (no rare values in the report).
    order = np.argsort(-ca, kind="stable")
    shown = [i for i in order if ca[i] >= MIN_LABEL_COUNT][:MAX_CHART_CATEGORIES]
    rest = [i for i in range(len(labels)) if i not in set(shown)]
    names = ["(missing)" if labels[i] == NULL_TOKEN else labels[i] for i in shown]
    ra = [_share(ca[i], ca.sum()) for i in shown]
    sa = [_share(cb[i], cb.sum()) for i in shown]
    if rest:
        names.append(f"(other {len(rest)})")
        ra.append(_share(ca[rest].sum(), ca.sum()))
        sa.append(_share(cb[rest].sum(), cb.sum()))
    return d, {"type": "categorical", "labels": names, "real": ra, "synthetic": sa}


def _share(x: float, total: float) -> float:
    return float(x / total) if total > 0 else 0.0


def _shares(counts: np.ndarray, total: float) -> list[float]:
    return [_share(x, total) for x in counts]
