"""Membership inference: a copy of the training set is caught, a draw from the holdout is not."""

from __future__ import annotations

import pytest

from safesynth.metrics.base import NotApplicable
from safesynth.metrics.membership import MembershipInference
from tests.workers.metrics.tables import context, population, resample, split


def test_copy_of_training_set_scores_poorly() -> None:
    train, hold = split(population(1000, 0), 200)
    res = MembershipInference().compute(context(train, train.copy(), hold))
    attacks = {d["attack"]: d for d in res.details}
    assert set(attacks) == {"dcr", "domias"}
    assert attacks["dcr"]["auc"] > 0.95 and attacks["dcr"]["tprAt1PctFpr"] > 0.9
    assert res.score < 1.5 and res.statistic["epsilonLowerBound"] > 2.0


def test_draw_from_holdout_and_a_fresh_population_score_well() -> None:
    train, hold = split(population(1000, 0), 200)
    from_holdout = MembershipInference().compute(context(train, resample(hold, 800, 1), hold))
    assert from_holdout.score > 8.0
    fresh = MembershipInference().compute(context(train, population(800, 5), hold))
    assert fresh.score > 6.0 and all(0.3 < d["auc"] < 0.7 for d in fresh.details)


def test_partial_leak_shows_at_low_fpr() -> None:
    """10% of synthetic rows copied from training: AUC barely moves, TPR at low FPR does."""
    import pandas as pd

    train, hold = split(population(2400, 0), 400)
    leak = pd.concat([population(1800, 7), train.sample(200, random_state=0)], ignore_index=True)
    res = MembershipInference().compute(context(train, leak, hold))
    dcr = next(d for d in res.details if d["attack"] == "dcr")
    assert dcr["auc"] < 0.6 and dcr["tprAtFprForEpsilon"] > 2 * dcr["fprForEpsilon"]
    assert res.score < 7.0


def test_no_holdout_is_not_applicable() -> None:
    df = population(100, 0)
    with pytest.raises(NotApplicable, match="holdout"):
        MembershipInference().compute(context(df, df))
