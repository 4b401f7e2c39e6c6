"""Mixed tables as numeric matrices, fitted on the real table and applied to any other.

Used where a metric needs vectors (PCA for deep structure, models for ML
utility). Numbers and dates: the value, with nulls as the real mean plus a
null indicator column when the real column has nulls; categories: one-hot of
the real table's most frequent labels, the rest pooled, nulls a label of
their own. `standardize` then scales every column by the real mean and
standard deviation (a PCA on the correlation matrix, so no unit dominates).

Ours rather than scikit-learn's OneHotEncoder/SimpleImputer/StandardScaler
pipeline: its `max_categories` adds a pooled "infrequent" column and orders
categories by name, which would change the deep-structure and ML-utility scores.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from safesynth.metrics.columns import CONTINUOUS, NULL_TOKEN, Kind, canonical, to_float

MAX_ONE_HOT = 20  # labels per categorical column; a column with 5,000 labels must not make 5,000 features
MAX_CATEGORY_CODES = 250  # HistGradientBoosting accepts at most 255 bins per categorical feature


@dataclass
class TableEncoder:
    columns: list[str]
    kinds: Mapping[str, Kind]
    max_one_hot: int = MAX_ONE_HOT
    means: dict[str, float] = field(default_factory=dict)
    null_cols: set[str] = field(default_factory=set)
    labels: dict[str, list[str]] = field(default_factory=dict)
    center: np.ndarray | None = None
    scale: np.ndarray | None = None

    def fit(self, real: pd.DataFrame, standardize: bool = True) -> TableEncoder:
        for c in self.columns:
            if self.kinds[c] in CONTINUOUS:
                x = to_float(real[c])
                finite = x[np.isfinite(x)]
                self.means[c] = float(finite.mean()) if finite.size else 0.0
                if not np.isfinite(x).all():
                    self.null_cols.add(c)
            else:
                self.labels[c] = list(canonical(real[c]).value_counts().index[: self.max_one_hot])
        if standardize:
            m = self._raw(real)
            self.center = m.mean(axis=0)
            sd = m.std(axis=0)
            self.scale = np.where(sd > 0, sd, 1.0)
        return self

    def _raw(self, df: pd.DataFrame) -> np.ndarray:
        parts = []
        for c in self.columns:
            if self.kinds[c] in CONTINUOUS:
                x = to_float(df[c])
                null = ~np.isfinite(x)
                parts.append(np.where(null, self.means[c], x)[:, None])
                if c in self.null_cols:
                    parts.append(null.astype(float)[:, None])
            else:
                lab = canonical(df[c]).to_numpy()
                parts.append(np.stack([lab == v for v in self.labels[c]], axis=1).astype(float)
                             if self.labels[c] else np.zeros((len(df), 0)))
        return np.hstack(parts) if parts else np.zeros((len(df), 0))

    def transform(self, df: pd.DataFrame) -> np.ndarray:
        m = self._raw(df)
        if self.center is not None and self.scale is not None:
            m = (m - self.center) / self.scale
        return m


def fit_encoder(real: pd.DataFrame, columns: Sequence[str], kinds: Mapping[str, Kind],
                standardize: bool = True) -> TableEncoder:
    return TableEncoder(list(columns), kinds).fit(real, standardize=standardize)


class CodedFeatures:
    """Feature matrix for scikit-learn's HistGradientBoosting: numbers as floats, categories as codes.

    Codes are the real table's most frequent labels (at most MAX_CATEGORY_CODES); a label the real
    table lacks, or a rarer one, becomes NaN, which the trees treat as missing. Used by ML utility
    and the detection test.

    `min_label_rows` (the detection test sets it, fitting on both of its samples): a label gets a
    code of its own only when the fitted rows hold it at least that many times. Rarer labels and
    labels the fitted rows lack share one code, OTHER (the last), and nulls are NaN (missing, a
    category of their own for the trees), so a rare value is compared by how often such values
    occur, never by which string it is.
    """

    def __init__(self, real: pd.DataFrame, cols: Sequence[str], kinds: Mapping[str, Kind],
                 min_label_rows: int | None = None) -> None:
        self.cols, self.kinds = list(cols), kinds
        self.pooled = min_label_rows is not None
        self.codes: dict[str, dict[str, int]] = {}
        for c in self.cols:
            if kinds[c] in CONTINUOUS:
                continue
            counts = canonical(real[c]).value_counts()
            if min_label_rows is not None:
                counts = counts[(counts >= min_label_rows) & (counts.index != NULL_TOKEN)]
                counts = counts.iloc[: MAX_CATEGORY_CODES - 1]  # OTHER takes the last code
            self.codes[c] = {v: i for i, v in enumerate(counts.index[:MAX_CATEGORY_CODES])}

    @property
    def categorical_mask(self) -> list[bool]:
        return [self.kinds[c] not in CONTINUOUS for c in self.cols]

    def matrix(self, df: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(df), len(self.cols)))
        for j, c in enumerate(self.cols):
            if self.kinds[c] in CONTINUOUS:
                out[:, j] = to_float(df[c])
                continue
            labels = canonical(df[c])
            coded = labels.map(self.codes[c]).to_numpy(dtype=float)  # unseen → NaN
            if self.pooled:
                null = (labels == NULL_TOKEN).to_numpy()
                coded[np.isnan(coded) & ~null] = len(self.codes[c])  # OTHER: rare or unseen
            out[:, j] = coded
        return out
