"""Gower distance: the formula, the null rules and chunking."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from safesynth.metrics.columns import Kind, align
from safesynth.metrics.distance import GowerSpace, gower_matrix, kth_smallest

KINDS = {"x": Kind.NUMERIC, "c": Kind.CATEGORICAL}


def encode(*frames: pd.DataFrame):  # type: ignore[no-untyped-def]
    t = align({str(i): f for i, f in enumerate(frames)}, KINDS)
    space = GowerSpace(list(KINDS), KINDS, [t["0"]], [t[k] for k in t if k != "0"])
    return [space.encode(t[str(i)]) for i in range(len(frames))]


def test_matches_the_formula_with_nulls() -> None:
    ref = pd.DataFrame({"x": [0.0, 10.0, np.nan], "c": ["a", "b", None]})
    q = pd.DataFrame({"x": [5.0, np.nan, 20.0], "c": ["a", None, "z"]})
    a, b = encode(ref, q)
    d = gower_matrix(b, a)
    # q0 vs ref0: |5-0|/10 = .5, a=a → (0.5+0)/2
    assert d[0, 0] == pytest.approx(0.25)
    # q1 (null, null) vs ref2 (null, null) → 0; vs ref0 → (1 + 1)/2
    assert d[1, 2] == pytest.approx(0.0) and d[1, 0] == pytest.approx(1.0)
    # q2: 20 clipped to the reference range [0, 10] → |10-10|/10 = 0, z≠b
    assert d[2, 1] == pytest.approx(0.5)


def test_chunked_equals_direct_and_kth_smallest() -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=300), "c": rng.choice(list("abc"), 300)})
    a, = encode(df)
    import safesynth.metrics.distance as dist

    full = gower_matrix(a, a)
    old, dist._CHUNK_ELEMENTS = dist._CHUNK_ELEMENTS, 1000
    try:
        chunked = gower_matrix(a, a)
    finally:
        dist._CHUNK_ELEMENTS = old
    assert np.allclose(full, chunked) and np.allclose(np.diag(full), 0)
    assert np.array_equal(kth_smallest(full, 1, axis=1), full.min(axis=1))
    assert np.all(kth_smallest(full, 2, axis=1) >= kth_smallest(full, 1, axis=1))
