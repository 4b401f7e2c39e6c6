"""Deep structure stability (PCA on the real table)."""

from __future__ import annotations

import numpy as np
import pytest

from safesynth.metrics.deep_structure import DeepStructure
from tests.workers.metrics.tables import context, population, shuffle_columns


def test_identical_scores_ten_broken_structure_scores_lower() -> None:
    real = population(1500, 0)
    same = DeepStructure().compute(context(real, real.copy()))
    assert same.score == pytest.approx(10.0) and same.params["components"] == 2
    fresh = DeepStructure().compute(context(real, population(1500, 1)))
    noise = real.copy()
    rng = np.random.default_rng(0)
    noise["income"] = rng.uniform(0, 200_000, len(noise))
    noise["age"] = rng.integers(18, 90, len(noise))[::-1]
    broken = DeepStructure().compute(context(real, shuffle_columns(noise, 1)))
    assert fresh.score > 8.0 and broken.score < fresh.score
    assert len(fresh.visual["real"]) == 400 and len(fresh.visual["real"][0]) == 2
