"""Column correlation stability and its association measures."""

from __future__ import annotations

import numpy as np
import pytest

from safesynth.metrics.correlation import ColumnCorrelation, correlation_ratio, theils_u
from tests.workers.metrics.tables import context, population, shuffle_columns


def test_identical_scores_ten_and_independent_shuffles_score_lower() -> None:
    real = population(1500, 0)
    same = ColumnCorrelation().compute(context(real, real.copy()))
    assert same.score == 10.0 and same.statistic["meanAbsDiff"] == pytest.approx(0.0)
    fresh = ColumnCorrelation().compute(context(real, population(1500, 1)))
    shuffled = ColumnCorrelation().compute(context(real, shuffle_columns(real, 2)))
    assert fresh.score > 8.5
    assert shuffled.score < fresh.score - 1.0
    top = shuffled.details["largestDifferences"][0]
    assert {top["column1"], top["column2"]} & {"income", "age", "group"}


def test_theils_u_and_correlation_ratio_bounds() -> None:
    x = np.array([0, 0, 1, 1, 2, 2])
    assert theils_u(x, x) == pytest.approx(1.0)
    assert theils_u(x, np.array([0, 1, 0, 1, 0, 1])) == pytest.approx(0.0)
    assert np.isnan(theils_u(np.zeros(5, dtype=int), x[:5]))
    assert theils_u(np.array([0, 0, 1, 1]), np.array([0, 1, 2, 3])) == pytest.approx(1.0)
    # U is asymmetric: knowing a 4-way code tells the 2-way one, not the other way round
    assert theils_u(np.array([0, 1, 2, 3]), np.array([0, 0, 1, 1])) == pytest.approx(0.5)
    assert correlation_ratio(np.array([0, 0, 1, 1]), np.array([1.0, 1.0, 5.0, 5.0])) == pytest.approx(1.0)
    assert correlation_ratio(np.array([0, 1, 0, 1]), np.array([1.0, 1.0, 5.0, 5.0])) == pytest.approx(0.0)
    assert np.isnan(correlation_ratio(np.array([0, 1]), np.array([3.0, 3.0])))
