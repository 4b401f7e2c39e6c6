"""Table encoding for PCA and models."""

from __future__ import annotations

import numpy as np

from safesynth.metrics.encoding import fit_encoder
from tests.workers.metrics.tables import context, population


def test_encoding_is_fitted_on_real_and_standardized() -> None:
    ctx = context(population(300, 0), population(100, 1))
    enc = fit_encoder(ctx.real, ctx.tabular, ctx.kinds)
    xr, xs = enc.transform(ctx.real), enc.transform(ctx.synthetic)
    assert xr.shape[1] == xs.shape[1] and xs.shape[0] == 100
    assert np.allclose(xr.mean(axis=0), 0, atol=1e-9) and np.isfinite(xs).all()
    assert "score" in enc.null_cols  # nulls get an indicator column
