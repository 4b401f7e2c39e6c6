"""Time gaps between consecutive rows of an entity: are the synthetic visits spaced like the real ones?

Statistic: the orderBy differences between consecutive rows of each entity
(rows in time order; dates in days), compared by Jensen–Shannon distance
(base 2) on quantile bins of the REAL gaps: edges at the real gaps'
k-quantiles, ties merged, within the real range, plus one bin below and one
above it and one for nulls (sequences.gap_histogram); k = divergence.bins_for
of the two sample sizes (5 to 20). Score: scores.distribution_score of the distance. Needs
spec.data.groupBy and spec.data.orderBy.
"""

from __future__ import annotations

import numpy as np

from safesynth.metrics import scores
from safesynth.metrics.base import Group, Metric, MetricResult, NotApplicable
from safesynth.metrics.context import EvalContext
from safesynth.metrics.divergence import bins_for
from safesynth.metrics.sequences import gap_histogram, gaps, grouping, sequences


class SequenceGaps(Metric):
    name = "sequence_gaps"
    title = "Time gaps between rows"
    group = Group.SEQUENCES
    explanation = ("Compares the gaps between an entity's consecutive rows (orderBy differences; days for dates) "
                   "in the synthetic and the real table: Jensen–Shannon distance on bins at the real gaps' "
                   "quantiles, 0 identical.")
    advice = ("Gaps that are too regular or too spread out: check that spec.data.orderBy names the time column, "
              "train longer, and look at the gap chart for a missing mode (e.g. yearly visits).")

    def compute(self, ctx: EvalContext) -> MetricResult:
        g = grouping(ctx, need_order=True)
        assert g.order_by is not None
        real = gaps(sequences(ctx.real, g.group_by, g.order_by), g.order_by)
        syn = gaps(sequences(ctx.synthetic, g.group_by, g.order_by), g.order_by)
        if np.isfinite(real).sum() == 0:
            raise NotApplicable("no real entity has two rows with an orderBy value: there are no gaps to compare")
        bins = bins_for(len(real), len(syn))
        h = gap_histogram(real, syn, bins)

        def summary(x: np.ndarray) -> dict[str, float | None]:
            f = x[np.isfinite(x)]
            return {"median": float(np.median(f)) if f.size else None, "mean": float(np.mean(f)) if f.size else None,
                    "zeroShare": float(np.mean(f == 0)) if f.size else None}

        rs, ss = summary(real), summary(syn)
        return self.result(
            scores.distribution_score(h.js),
            statistic={"jsDistance": h.js, "realGaps": len(real), "syntheticGaps": len(syn),
                       "realMedianGap": rs["median"], "syntheticMedianGap": ss["median"],
                       "realMeanGap": rs["mean"], "syntheticMeanGap": ss["mean"],
                       "realZeroGapShare": rs["zeroShare"], "syntheticZeroGapShare": ss["zeroShare"]},
            params={"orderBy": g.order_by, "unit": "days" if ctx.kinds[g.order_by].value == "datetime" else "orderBy units",
                    "binning": f"quantiles of the real gaps ({bins} asked, {len(h.edges or []) + 1} after merging ties)",
                    "base": 2},
            visual={"labels": h.labels, "real": h.shares("real"), "synthetic": h.shares("synthetic"),
                    "unit": "days" if ctx.kinds[g.order_by].value == "datetime" else g.order_by},
        )
