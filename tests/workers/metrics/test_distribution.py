"""Column distribution stability."""

from __future__ import annotations

import numpy as np
import pytest

from safesynth.metrics.base import NotApplicable
from safesynth.metrics.columns import Kind
from safesynth.metrics.distribution import MIN_LABEL_COUNT, ColumnDistribution
from tests.workers.metrics.tables import context, population


def test_identical_tables_score_ten() -> None:
    real = population(400, 0)
    res = ColumnDistribution().compute(context(real, real.copy()))
    assert res.score == 10.0 and res.statistic["meanJsDistance"] == pytest.approx(0.0)
    assert {r["column"] for r in res.details} == {"age", "income", "group", "smoker", "score", "visit"}  # no id


def test_a_damaged_column_is_found_and_lowers_the_score() -> None:
    real = population(1000, 0)
    fresh = population(1000, 1)
    damaged = fresh.copy()
    damaged["income"] = damaged["income"] * 3
    damaged.loc[: 300, "group"] = None
    good = ColumnDistribution().compute(context(real, fresh))
    bad = ColumnDistribution().compute(context(real, damaged))
    assert 8.0 < good.score < 10.0 and bad.score < good.score
    js = {r["column"]: r["jsDistance"] for r in bad.details}
    assert max(js, key=js.get) == "income" and js["group"] > 0.2
    assert next(r for r in bad.details if r["column"] == "group")["nullShareSynthetic"] == pytest.approx(0.301)


def test_charts_never_name_rare_categories() -> None:
    real = population(300, 0)
    real.loc[0, "group"] = "rare-value"
    res = ColumnDistribution().compute(context(real, real.copy()))
    labels = res.visual["histograms"]["group"]["labels"]
    assert "rare-value" not in labels and any(label.startswith("(other") for label in labels)
    assert MIN_LABEL_COUNT > 1


def test_no_tabular_column_is_not_applicable() -> None:
    real = population(50, 0)[["id"]]
    with pytest.raises(NotApplicable):
        ColumnDistribution().compute(context(real, real, kinds={"id": Kind.IDENTIFIER}))
    assert np.isfinite(ColumnDistribution().compute(context(population(50, 0), population(50, 1))).score)
