"""Rows per entity: does the synthetic table have entities of the real lengths?

Statistic: Jensen–Shannon distance (base 2, scipy's `jensenshannon`) between
the real and synthetic distributions of rows per entity, on the shared integer
support 1..max (equal-width bins past 64 rows: sequences.length_histogram).
Score: the column-distribution curve of the reference product
(scores.distribution_score), so a length distribution reads like a column's.
Every entity counts. Needs spec.data.groupBy.
"""

from __future__ import annotations

import numpy as np

from safesynth.metrics import scores
from safesynth.metrics.base import Group, Metric, MetricResult, NotApplicable
from safesynth.metrics.context import EvalContext
from safesynth.metrics.sequences import MAX_INTEGER_SUPPORT, grouping, length_histogram, sequences


class SequenceRows(Metric):
    name = "sequence_rows_per_entity"
    title = "Rows per entity"
    group = Group.SEQUENCES
    explanation = ("Compares how many rows each entity has (visits per patient, transactions per customer) in the "
                   "synthetic and the real table: Jensen–Shannon distance of the two distributions, 0 identical.")
    advice = ("Entities that are too short or too long: check spec.data.maxGroupRows (entities longer than it are "
              "cut), train longer, or give the generator more entities to learn from.")

    def compute(self, ctx: EvalContext) -> MetricResult:
        g = grouping(ctx)
        real = sequences(ctx.real, g.group_by).lengths()
        syn = sequences(ctx.synthetic, g.group_by).lengths()
        if len(real) == 0:
            raise NotApplicable("the real table has no rows")
        h = length_histogram(real, syn)
        return self.result(
            scores.distribution_score(h.js),
            statistic={"jsDistance": h.js,
                       "realEntities": len(real), "syntheticEntities": len(syn),
                       "realMeanRows": float(np.mean(real)), "syntheticMeanRows": float(np.mean(syn)),
                       "realMedianRows": float(np.median(real)), "syntheticMedianRows": float(np.median(syn)),
                       "realMaxRows": int(real.max()), "syntheticMaxRows": int(syn.max())},
            params={"groupBy": list(g.group_by), "base": 2,
                    "support": f"integers 1–{len(h.labels)}" if max(real.max(), syn.max()) <= MAX_INTEGER_SUPPORT
                    else f"{len(h.labels)} equal-width bins"},
            visual={"labels": h.labels, "edges": h.edges, "real": h.shares("real"), "synthetic": h.shares("synthetic")},
        )
