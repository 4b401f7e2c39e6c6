"""Within-entity change: do the synthetic entities change from row to row as much as the real ones?

Statistic, per column other than the keys and orderBy (rows in time order):
- numbers and dates: the mean |x_t − x_{t−1}| over consecutive rows of one
  entity (both present; dates in days), real m_r and synthetic m_s, and their
  ratio m_s/m_r (the change relative to the real); error |m_s − m_r|/(m_s + m_r),
  in [0, 1], 0 when both are 0;
- categories and booleans: the share of consecutive pairs whose value changes
  (null is a value), real c_r and synthetic c_s; error |c_s − c_r|.
Score: 10·(1 − mean error). Rows generated without their entity change as much
between an entity's rows as between any two rows of the table, so columns that
barely move within a real entity (lab values, a diagnosis, a name) show it.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from safesynth.metrics.base import Group, Metric, MetricResult, NotApplicable
from safesynth.metrics.context import EvalContext
from safesynth.metrics.sequences import change_share, grouping, mean_abs_change, sequences


def relative_error(real: Optional[float], synthetic: Optional[float]) -> Optional[float]:
    """|s − r| / (s + r) for two non-negative magnitudes: 0 equal, 1 when exactly one is 0; None without a real value."""
    if real is None:
        return None
    s = synthetic if synthetic is not None else 0.0
    total = real + s
    return 0.0 if total <= 0 else abs(s - real) / total


class SequenceChange(Metric):
    name = "sequence_change"
    title = "Within-entity change"
    group = Group.SEQUENCES
    explanation = ("Per column, how much an entity's value changes from one row to the next (numbers: mean absolute "
                   "difference; categories: share of rows whose value changes), real vs synthetic. 10 means the "
                   "synthetic entities change exactly as much as the real ones.")
    advice = ("Synthetic entities that change too much behave like unrelated rows stitched together: generate whole "
              "entities (spec.data.groupBy) and train longer. Too little change means frozen sequences.")

    def compute(self, ctx: EvalContext) -> MetricResult:
        g = grouping(ctx)
        if not g.numeric and not g.categorical:
            raise NotApplicable("no numeric, date, categorical or boolean columns besides the keys and orderBy")
        real_seq = sequences(ctx.real, g.group_by, g.order_by)
        syn_seq = sequences(ctx.synthetic, g.group_by, g.order_by)
        rows: list[dict[str, Any]] = []
        for c in g.numeric:
            r, n_r = mean_abs_change(real_seq, c)
            s, n_s = mean_abs_change(syn_seq, c)
            rows.append({"column": c, "measure": "meanAbsChange", "real": r, "synthetic": s,
                         "ratio": (s / r) if r and s is not None else None, "error": relative_error(r, s),
                         "realPairs": n_r, "syntheticPairs": n_s})
        for c in g.categorical:
            r, n_r = change_share(real_seq, c)
            s, n_s = change_share(syn_seq, c)
            err = None if r is None else abs((s if s is not None else 0.0) - r)
            rows.append({"column": c, "measure": "changeShare", "real": r, "synthetic": s, "ratio": None,
                         "error": err, "realPairs": n_r, "syntheticPairs": n_s})
        scored = [x for x in rows if x["error"] is not None]
        if not scored:
            raise NotApplicable("no real entity has two rows: there is no change to compare")
        errors = [x["error"] for x in scored]
        mean = float(np.mean(errors))
        num = [x for x in scored if x["measure"] == "meanAbsChange"]
        cat = [x for x in scored if x["measure"] == "changeShare"]
        return self.result(
            float(min(10.0, max(0.0, 10.0 * (1.0 - mean)))),
            statistic={"meanError": mean, "maxError": float(max(errors)),
                       "error": {x["column"]: x["error"] for x in scored},
                       "numericRatio": {x["column"]: x["ratio"] for x in num},
                       "meanAbsChangeReal": {x["column"]: x["real"] for x in num},
                       "meanAbsChangeSynthetic": {x["column"]: x["synthetic"] for x in num},
                       "changeShareReal": {x["column"]: x["real"] for x in cat},
                       "changeShareSynthetic": {x["column"]: x["synthetic"] for x in cat}},
            params={"columns": len(scored), "numericError": "|s − r| / (s + r)", "categoricalError": "|s − r|",
                    "realPairs": int(real_seq.pair.sum()), "syntheticPairs": int(syn_seq.pair.sum())},
            details=rows,
        )
