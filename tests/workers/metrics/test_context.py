"""Shared privacy samples: equal footing, seeded, and said in notes."""

from __future__ import annotations

import numpy as np
import pytest

from safesynth.metrics.base import NotApplicable
from tests.workers.metrics.tables import context, population, split


def test_members_match_holdout_size_and_samples_are_seeded() -> None:
    train, hold = split(population(1300, 0), 300)
    a = context(train, population(2000, 1), hold, max_rows=500).privacy
    b = context(train, population(2000, 1), hold, max_rows=500).privacy
    assert len(a.members) == len(a.holdout) == 300 and len(a.synthetic) == 500
    assert a.d_members.shape == (500, 300) and a.d_holdout.shape == (500, 300)
    assert np.array_equal(a.d_members, b.d_members)
    assert any("500 of 2000 synthetic rows" in n for n in a.notes)
    assert "id" not in a.columns  # identifiers are not compared


def test_needs_a_holdout() -> None:
    df = population(50, 0)
    with pytest.raises(NotApplicable):
        _ = context(df, df).privacy
