"""Table encoding for PCA and models."""

from __future__ import annotations

import numpy as np
import pandas as pd

from safesynth.metrics.columns import Kind
from safesynth.metrics.encoding import CodedFeatures, fit_encoder
from tests.workers.metrics.tables import context, population


def test_encoding_is_fitted_on_real_and_standardized() -> None:
    ctx = context(population(300, 0), population(100, 1))
    enc = fit_encoder(ctx.real, ctx.tabular, ctx.kinds)
    xr, xs = enc.transform(ctx.real), enc.transform(ctx.synthetic)
    assert xr.shape[1] == xs.shape[1] and xs.shape[0] == 100
    assert np.allclose(xr.mean(axis=0), 0, atol=1e-9) and np.isfinite(xs).all()
    assert "score" in enc.null_cols  # nulls get an indicator column


def test_coded_features_pool_rare_and_unseen_labels_when_asked() -> None:
    fitted = pd.DataFrame({"c": ["a"] * 30 + ["b"] * 25 + ["r1"] + [None] * 3})
    other = pd.DataFrame({"c": ["a", "b", "r1", "new", None]})
    kinds = {"c": Kind.CATEGORICAL}

    pooled = CodedFeatures(fitted, ["c"], kinds, min_label_rows=20).matrix(other)[:, 0]
    assert pooled[:2].tolist() == [0.0, 1.0]  # frequent labels keep codes of their own
    assert pooled[2] == pooled[3] == 2.0  # a rare label and an unseen one share OTHER, the last code
    assert np.isnan(pooled[4])  # nulls are missing values, never pooled with rare labels

    plain = CodedFeatures(fitted, ["c"], kinds).matrix(other)[:, 0]  # ML utility's coding is unchanged
    assert plain[:3].tolist() == [0.0, 1.0, 3.0] and np.isnan(plain[3]) and plain[4] == 2.0
