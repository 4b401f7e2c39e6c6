"""ML utility: train on synthetic, test on holdout, compare with train on real."""

from __future__ import annotations

import numpy as np
import pytest

from safesynth.errors import BadInputError
from safesynth.metrics.base import NotApplicable
from safesynth.metrics.columns import infer_kinds
from safesynth.metrics.ml_utility import MLUtility, choose_target
from tests.workers.metrics.tables import context, population, split


def test_target_choice() -> None:
    df = population(200, 0)
    kinds = infer_kinds(df)
    assert choose_target(df, kinds, None) == ("smoker", "classification")  # last 2–20-class column
    assert choose_target(df, kinds, "income") == ("income", "regression")
    with pytest.raises(BadInputError):
        choose_target(df, kinds, "nope")
    with pytest.raises(BadInputError):
        choose_target(df, kinds, "id")


@pytest.mark.slow  # ~2.5 s on 2 cores: fits four gradient-boosting models
def test_real_like_synthetic_keeps_utility_and_a_broken_target_loses_it() -> None:
    train, hold = split(population(1600, 0), 400)
    good = MLUtility().compute(context(train, population(1200, 1), hold, target="group"))
    assert good.params["task"] == "classification" and good.score > 7.0
    broken = population(1200, 1)
    broken["group"] = np.random.default_rng(0).permutation(broken["group"].to_numpy())
    bad = MLUtility().compute(context(train, broken, hold, target="group"))
    assert bad.score < good.score - 2.0
    reg = MLUtility().compute(context(train, population(1200, 1), hold, target="income"))
    assert reg.statistic["metric"] == "r2" and reg.score > 8.0


def test_needs_a_holdout() -> None:
    df = population(100, 0)
    with pytest.raises(NotApplicable, match="holdout"):
        MLUtility().compute(context(df, df))
