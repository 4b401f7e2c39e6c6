"""Detection: a classifier two-sample test finds broken relations that per-column scores miss."""

from __future__ import annotations

import pytest

from safesynth.metrics.base import run_metric
from safesynth.metrics.detection import Detection
from tests.workers.metrics.tables import context, population, shuffle_columns, split


@pytest.mark.slow
def test_shuffled_columns_are_detected_and_an_independent_draw_is_not() -> None:
    train, hold = split(population(900, 0), 300)
    shuffled = run_metric(Detection(), context(train, shuffle_columns(train, 1), hold, seed=3))
    fresh = run_metric(Detection(), context(train, population(600, 9), hold, seed=3))
    assert shuffled.ok and fresh.ok
    assert shuffled.statistic["auc"] > 0.75 and shuffled.score < 5.0
    assert fresh.statistic["auc"] < 0.6 and fresh.score > 8.0
    assert fresh.statistic["realVsRealAuc"] < 0.6  # the floor: two real samples
    again = run_metric(Detection(), context(train, population(600, 9), hold, seed=3))
    assert again.statistic == fresh.statistic  # seeded


def test_without_holdout_there_is_no_floor_and_it_says_so() -> None:
    real = population(300, 0)
    res = run_metric(Detection(), context(real, population(300, 1), None))
    assert res.ok and res.statistic["realVsRealAuc"] is None and any("holdout" in n for n in res.notes)
