"""Jensen–Shannon distance on shared bins and category frequencies."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from safesynth.metrics.divergence import categorical_js, js_distance, numeric_histograms, numeric_js


def test_identical_is_zero_disjoint_is_one() -> None:
    assert js_distance(np.array([1, 2, 3]), np.array([2, 4, 6])) == pytest.approx(0.0)
    assert js_distance(np.array([1, 0]), np.array([0, 1])) == pytest.approx(1.0)
    assert js_distance(np.zeros(2), np.array([1, 0])) == 1.0


def test_numeric_bins_are_shared_and_nulls_are_a_bin() -> None:
    a = np.array([0.0, 1.0, np.nan])
    b = np.array([0.0, 1.0, 1.0])
    ca, cb, edges = numeric_histograms(a, b, bins=2)
    assert edges is not None and edges.tolist() == [0.0, 0.5, 1.0]
    assert ca.tolist() == [1, 1, 1] and cb.tolist() == [1, 2, 0]
    rng = np.random.default_rng(0)
    x = rng.normal(size=2000)
    assert numeric_js(x, x + 3) > numeric_js(x, x + 0.1) > numeric_js(x, x.copy())


def test_categorical_counts_nulls_and_unseen_labels() -> None:
    a = pd.Series(["x", "y", None])
    assert categorical_js(a, a.copy()) == pytest.approx(0.0)
    assert categorical_js(a, pd.Series(["z", "z"])) == pytest.approx(1.0)
