"""Wilson score interval."""

from __future__ import annotations

import pytest

from safesynth.metrics.intervals import wilson


def test_known_values_and_edges() -> None:
    lo, hi = wilson(50, 100)
    assert (lo, hi) == pytest.approx((0.4038, 0.5962), abs=1e-4)
    lo0, hi0 = wilson(0, 20)
    assert lo0 == 0.0 and 0.1 < hi0 < 0.2  # stays sensible at p = 0
    assert wilson(0, 0) == (0.0, 1.0)
