"""Entity-level columns: do columns that never change within a real entity stay constant in the synthetic ones?

A column is entity-level when it holds one value (null counts as a value)
within at least 99% of the real entities that have two rows or more
(sequences.constant_shares): a patient's sex, birth date, treatment arm, name.
Statistic, per entity-level column: the share of synthetic entities (two rows
or more) in which it is constant; the real share beside it; details list every
other column's real share too. Score: 10 × the mean synthetic share over the
entity-level columns. The keys and orderBy are not candidates; empty columns
neither.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from safesynth.metrics.base import Group, Metric, MetricResult, NotApplicable
from safesynth.metrics.columns import Kind
from safesynth.metrics.context import EvalContext
from safesynth.metrics.sequences import ENTITY_LEVEL_SHARE, constant_shares, entity_level_columns, grouping


class SequenceEntityColumns(Metric):
    name = "sequence_entity_columns"
    title = "Entity-level columns"
    group = Group.SEQUENCES
    explanation = ("Columns that hold one value within (nearly) every real entity, such as a patient's sex or birth "
                   "date: the share of synthetic entities in which each stays constant. 10 means every synthetic "
                   "entity keeps one value per such column.")
    advice = ("A synthetic entity whose birth date or sex changes between rows is not a believable entity: generate "
              "whole entities (spec.data.groupBy); if a column is meant to change, it is not entity-level and the "
              "real data will show that.")

    def compute(self, ctx: EvalContext) -> MetricResult:
        g = grouping(ctx)
        skip = {*g.group_by, *([g.order_by] if g.order_by else [])}
        candidates = [c for c, k in ctx.kinds.items() if c not in skip and k is not Kind.EMPTY]
        real, n_real = constant_shares(ctx.real, g.group_by, candidates)
        if n_real == 0:
            raise NotApplicable("no real entity has two rows or more: every column is trivially constant")
        level = entity_level_columns(real)
        if not level:
            raise NotApplicable(f"no column is constant within {ENTITY_LEVEL_SHARE:.0%} of the real entities")
        syn, n_syn = constant_shares(ctx.synthetic, g.group_by, candidates)
        if n_syn == 0:
            raise NotApplicable("no synthetic entity has two rows or more: constancy cannot be judged")
        shares = [float(v) for c in level if (v := syn[c]) is not None]
        mean = float(np.mean(shares))
        details: list[dict[str, Any]] = [
            {"column": c, "kind": ctx.kinds[c].value, "entityLevel": c in level, "realConstantShare": real[c],
             "syntheticConstantShare": syn[c]} for c in candidates]
        return self.result(
            10.0 * mean,
            statistic={"meanSyntheticConstantShare": mean, "minSyntheticConstantShare": float(min(shares)),
                       "entityLevelColumns": level,
                       "syntheticConstantShare": {c: syn[c] for c in level},
                       "realConstantShare": {c: real[c] for c in level}},
            params={"threshold": ENTITY_LEVEL_SHARE, "realEntities": n_real, "syntheticEntities": n_syn,
                    "entitiesCounted": "two rows or more"},
            details=details,
            visual={"columns": level, "real": [real[c] for c in level], "synthetic": [syn[c] for c in level]},
        )
