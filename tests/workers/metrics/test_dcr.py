"""Distance to closest record and exact copies."""

from __future__ import annotations

import pandas as pd
import pytest

from safesynth.metrics.dcr import DistanceToClosestRecord
from tests.workers.metrics.tables import context, population, resample, split


def test_copy_scores_zero_holdout_draw_ten_fresh_near_half() -> None:
    train, hold = split(population(1000, 0), 200)
    copy = DistanceToClosestRecord().compute(context(train, train.copy(), hold))
    assert copy.statistic["exactCopiesOfTrainingRows"] == 800 and copy.score == 0.0
    drawn = DistanceToClosestRecord().compute(context(train, resample(hold, 500, 0), hold))
    assert drawn.statistic["shareCloserToTrain"] < 0.05 and drawn.score == 10.0
    fresh = DistanceToClosestRecord().compute(context(train, population(800, 3), hold))
    assert 0.35 < fresh.statistic["shareCloserToTrain"] < 0.65 and fresh.score > 7.0


def test_chance_duplicates_in_a_tiny_domain_are_not_copies() -> None:
    """Two binary columns: every synthetic row equals some training row by chance, and some holdout row too."""
    import numpy as np

    r = np.random.default_rng(0)
    df = pd.DataFrame({"a": r.choice(["x", "y"], 600), "b": r.choice(["p", "q"], 600)})
    train, hold = split(df, 200)
    fresh = pd.DataFrame({"a": r.choice(["x", "y"], 300), "b": r.choice(["p", "q"], 300)})
    res = DistanceToClosestRecord().compute(context(train, fresh, hold))
    assert res.statistic["exactCopyShare"] == pytest.approx(1.0)
    assert res.statistic["excessCopyShare"] == pytest.approx(0.0)
    assert res.score > 8.0
