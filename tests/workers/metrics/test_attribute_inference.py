"""Attribute inference with a control (Anonymeter-style)."""

from __future__ import annotations

import pytest

from safesynth.errors import BadInputError
from safesynth.metrics.attribute_inference import AttributeInference, choose_secrets, risk_with_interval
from tests.workers.metrics.tables import context, population, resample, split


def test_risk_formula_and_interval() -> None:
    r = risk_with_interval((90, 100), (50, 100))
    assert r["risk"] == pytest.approx(0.8)
    assert r["riskLow"] < 0.8 < r["riskHigh"] <= 1.0
    assert risk_with_interval((50, 100), (50, 100))["risk"] == pytest.approx(0.0)


def test_risk_is_bounded_to_0_1_and_keeps_the_signed_difference() -> None:
    """Training trailing control by as many targets as control misses used to read "−1.000 [−1.000, 0.901]"."""
    r = risk_with_interval((198, 200), (199, 200))
    assert r["risk"] == r["riskLow"] == 0.0 and 0.0 < r["riskHigh"] <= 1.0
    assert r["excess"] == pytest.approx(-0.005) and r["riskMeasurable"]
    assert risk_with_interval((100, 200), (150, 200))["riskHigh"] == 0.0  # an interval wholly below 0 is [0, 0]
    assert not risk_with_interval((200, 200), (200, 200))["riskMeasurable"]  # control always right: nothing to add


def test_copy_is_high_risk_holdout_draw_is_not() -> None:
    train, hold = split(population(1000, 0), 200)
    copy = AttributeInference().compute(context(train, train.copy(), hold))
    assert copy.statistic["maxRisk"] > 0.5 and copy.score < 3.0
    for row in copy.details:
        assert row["mainRate"] > row["controlRate"]
    drawn = AttributeInference().compute(context(train, resample(hold, 800, 1), hold))
    assert drawn.statistic["maxRisk"] <= 0.0 and drawn.score == 10.0


def test_population_patterns_alone_are_not_a_risk() -> None:
    """A fresh sample from the population reveals group → smoker patterns equally for everyone."""
    train, hold = split(population(1400, 0), 400)
    res = AttributeInference().compute(context(train, population(1000, 9), hold, sensitive_columns=("smoker",)))
    row = res.details[0]
    assert row["secret"] == "smoker" and row["mainRate"] > row["baselineRate"] - 0.1
    assert res.statistic["maxRisk"] < 0.15 and res.score > 7.0


def test_secret_choice_and_bad_names() -> None:
    train, hold = split(population(300, 0), 100)
    ctx = context(train, train, hold)
    assert choose_secrets(ctx) == ["smoker", "group", "age"]
    with pytest.raises(BadInputError):
        choose_secrets(context(train, train, hold, sensitive_columns=("nope",)))
