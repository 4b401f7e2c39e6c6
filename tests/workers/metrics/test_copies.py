"""Copies: exact and near copies of real rows, with or without a holdout."""

from __future__ import annotations

import pandas as pd

from safesynth.metrics.base import run_metric
from safesynth.metrics.copies import Copies
from tests.workers.metrics.tables import context, population, split


def test_half_copy_is_counted_with_and_without_holdout() -> None:
    train, hold = split(population(800, 0), 200)
    half = pd.concat([train.iloc[:150], population(150, 7)], ignore_index=True)
    for holdout in (hold, None):
        res = run_metric(Copies(), context(train, half, holdout))
        assert res.ok and res.statistic["exactCopies"] == 150
        assert 0.45 <= res.statistic["copyShareBeyondChance"] <= 0.5
        assert res.statistic["nearCopyShare"] >= 0.5 and res.score <= 5.5


def test_new_rows_have_about_the_real_baseline_of_near_copies() -> None:
    train, hold = split(population(800, 0), 200)
    res = run_metric(Copies(), context(train, population(300, 7), hold))
    assert res.statistic["exactCopies"] == 0
    assert abs(res.statistic["nearCopyShare"] - res.statistic["nearCopyShareRealBaseline"]) < 0.08
    assert res.score > 8.5
