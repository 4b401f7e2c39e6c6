"""Lag-1 autocorrelation within entities: do the synthetic sequences persist from row to row like the real ones?

Statistic, per numeric or date column (not the keys or orderBy): the pooled
lag-1 autocorrelation, Pearson's r of x_t with x_{t−1} over every pair of
consecutive rows of one entity (rows in time order, both values present;
sequences.lag1_autocorrelation), for the real and the synthetic table, and
|r_real − r_synthetic|. Pooled over entities, so it is high both when values
persist within an entity and when entities differ in level; rows generated
independently of their entity have r ≈ 0. A column without enough real pairs
(3) or without variation is skipped; a synthetic table without pairs counts
as r = 0. Score: the mean |difference| through the reference product's
correlation curve (scores.correlation_score), the one column correlations use.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from safesynth.metrics import scores
from safesynth.metrics.base import Group, Metric, MetricResult, NotApplicable
from safesynth.metrics.context import EvalContext
from safesynth.metrics.sequences import MIN_PAIRS, grouping, lag1_autocorrelation, sequences


class SequenceAutocorrelation(Metric):
    name = "sequence_autocorrelation"
    title = "Lag-1 autocorrelation"
    group = Group.SEQUENCES
    explanation = ("Per numeric column, the correlation of each row's value with the previous row of the same "
                   "entity (pooled over entities), in the real and the synthetic table; the score falls with the "
                   "mean absolute difference.")
    advice = ("Low: the generator writes an entity's rows as if they were unrelated. Check that whole entities are "
              "generated (spec.data.groupBy), and train longer; a column far off in the chart is where to look.")

    def compute(self, ctx: EvalContext) -> MetricResult:
        g = grouping(ctx)
        if not g.numeric:
            raise NotApplicable("no numeric or date columns besides the keys and orderBy")
        real_seq = sequences(ctx.real, g.group_by, g.order_by)
        syn_seq = sequences(ctx.synthetic, g.group_by, g.order_by)
        rows: list[dict[str, Any]] = []
        notes: list[str] = []
        for c in g.numeric:
            r, n_r = lag1_autocorrelation(real_seq, c)
            s, n_s = lag1_autocorrelation(syn_seq, c)
            if r is None:
                rows.append({"column": c, "real": None, "synthetic": s, "absDifference": None,
                             "realPairs": n_r, "syntheticPairs": n_s})
                continue
            diff = abs(r - (s if s is not None else 0.0))
            rows.append({"column": c, "real": r, "synthetic": s, "absDifference": diff,
                         "realPairs": n_r, "syntheticPairs": n_s})
        scored = [x for x in rows if x["absDifference"] is not None]
        if not scored:
            raise NotApplicable(f"no numeric column has {MIN_PAIRS} real consecutive pairs with variation")
        skipped = [x["column"] for x in rows if x["absDifference"] is None]
        if skipped:
            notes.append(f"{len(skipped)} column(s) without {MIN_PAIRS} varying real pairs skipped: "
                         + ", ".join(skipped))
        no_syn = [x["column"] for x in scored if x["synthetic"] is None]
        if no_syn:
            notes.append(f"{len(no_syn)} column(s) have no synthetic consecutive pairs with variation: counted as r = 0")
        diffs = [x["absDifference"] for x in scored]
        mean = float(np.mean(diffs))
        return self.result(
            scores.correlation_score(mean),
            statistic={"meanAbsDifference": mean, "maxAbsDifference": float(max(diffs)),
                       "absDifference": {x["column"]: x["absDifference"] for x in scored},
                       "real": {x["column"]: x["real"] for x in scored},
                       "synthetic": {x["column"]: x["synthetic"] for x in scored}},
            params={"lag": 1, "pooling": "all consecutive pairs of all entities", "columns": len(scored),
                    "minPairs": MIN_PAIRS},
            details=rows,
            notes=notes,
            visual={"columns": [x["column"] for x in scored], "real": [x["real"] for x in scored],
                    "synthetic": [x["synthetic"] if x["synthetic"] is not None else 0.0 for x in scored]},
        )
