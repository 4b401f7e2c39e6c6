"""Row order: does the synthetic table write each entity's rows in orderBy order?

Statistic: the share of synthetic entities whose orderBy values, read in the
order the table writes the rows, never decrease (nulls skipped;
sequences.ordering), and, beside it, the share whose rows form one contiguous
block and the same shares for the real training table. Score: 10 × the
ordered share. Needs spec.data.groupBy and spec.data.orderBy.
"""

from __future__ import annotations

from safesynth.metrics.base import Group, Metric, MetricResult, NotApplicable
from safesynth.metrics.context import EvalContext
from safesynth.metrics.sequences import grouping, ordering


class SequenceOrder(Metric):
    name = "sequence_order"
    title = "Row order within entities"
    group = Group.SEQUENCES
    explanation = ("The share of synthetic entities whose rows are written in non-decreasing orderBy order "
                   "(time order). 10 means every entity reads forward in time.")
    advice = ("Entities out of order were generated row by row, or sorted by something else afterwards: sort each "
              "entity by spec.data.orderBy before use, and check that orderBy names the time column.")

    def compute(self, ctx: EvalContext) -> MetricResult:
        g = grouping(ctx, need_order=True)
        assert g.order_by is not None
        syn = ordering(ctx.synthetic, g.group_by, g.order_by)
        if syn.entities == 0:
            raise NotApplicable("the synthetic table has no entities")
        real = ordering(ctx.real, g.group_by, g.order_by)
        return self.result(
            10.0 * syn.ordered_share,
            statistic={"orderedShare": syn.ordered_share, "contiguousShare": syn.contiguous_share,
                       "unorderedEntities": syn.entities - syn.ordered, "syntheticEntities": syn.entities,
                       "realOrderedShare": real.ordered_share, "realContiguousShare": real.contiguous_share},
            params={"orderBy": g.order_by, "nulls": "skipped", "order": "as written"},
        )
