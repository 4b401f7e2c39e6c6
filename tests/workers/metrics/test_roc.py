"""ROC statistics of membership attacks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from safesynth.metrics.roc import empirical_epsilon, hanley_mcneil_se, roc_stats


def test_perfect_random_and_inverted_attacks() -> None:
    rng = np.random.default_rng(0)
    perfect = roc_stats(np.ones(200), np.zeros(200))
    assert perfect["auc"] == 1.0 and perfect["tprAt1PctFpr"] == pytest.approx(1.0)
    assert perfect["epsilonLowerBound"] == pytest.approx(math.log(1 / 0.05))  # FPR raised to 10 of 200 non-members
    chance = roc_stats(rng.normal(size=5000), rng.normal(size=5000))
    assert abs(chance["auc"] - 0.5) < 0.03 and chance["tprAt1PctFpr"] < 0.03 and chance["epsilonLowerBound"] < 0.4
    inverted = roc_stats(np.zeros(100), np.ones(100))
    assert inverted["auc"] == 0.0 and inverted["epsilonLowerBound"] == 0.0
    assert len(chance["curve"]["fpr"]) == len(chance["curve"]["tpr"]) == 101


def test_all_ties_are_chance() -> None:
    st = roc_stats(np.zeros(300), np.zeros(300))
    assert st["auc"] == 0.5 and st["tprAt1PctFpr"] == pytest.approx(0.01)


def test_epsilon_and_standard_error() -> None:
    assert empirical_epsilon(0.172, 0.01) == pytest.approx(math.log(17.2))
    assert empirical_epsilon(0.005, 0.01) == 0.0 and empirical_epsilon(0.0, 0.01) == 0.0
    assert hanley_mcneil_se(0.5, 1000, 1000) == pytest.approx(0.0129, abs=5e-4)
    assert math.isnan(hanley_mcneil_se(0.5, 0, 10))
