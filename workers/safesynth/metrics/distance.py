"""Gower distance between rows of mixed tables, for the distance-based privacy metrics.

d(a, b) = (1/p) Σ_j d_j with, per column j (Gower 1971):
  numeric/datetime: |a_j − b_j| / range_j, values clipped to the reference range first (so d_j ≤ 1),
                    0 when both are null, 1 when exactly one is;
  categorical/boolean/text: 0 when equal (null equals null), else 1.
The range comes from the real rows (training and holdout together), so the
same yardstick measures synthetic-to-train and synthetic-to-holdout. SDMetrics'
DCR metrics use the same definition.

Hand-written rather than sklearn's pairwise_distances: Gower with null rules
is not one of its metrics, and one-hot encoding wide categoricals for a
Manhattan distance costs more memory than this chunked broadcast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from safesynth.metrics.columns import CONTINUOUS, Kind, canonical, to_float

_CHUNK_ELEMENTS = 4_000_000  # pairs × columns per broadcast step: ~16 MB of float32 temporaries


@dataclass(frozen=True)
class EncodedRows:
    num: np.ndarray  # (n, k_num) float32 in [0, 1], NaN for null
    cat: np.ndarray  # (n, k_cat) int32 codes, nulls have their own code

    def __len__(self) -> int:
        return int(self.num.shape[0])

    def take(self, idx: np.ndarray) -> EncodedRows:
        return EncodedRows(self.num[idx], self.cat[idx])


class GowerSpace:
    """Column encodings shared by all tables compared in one evaluation."""

    def __init__(self, columns: Sequence[str], kinds: Mapping[str, Kind], reference: Sequence[pd.DataFrame],
                 others: Sequence[pd.DataFrame] = ()) -> None:
        self.num_cols = [c for c in columns if kinds[c] in CONTINUOUS]
        self.cat_cols = [c for c in columns if kinds[c] not in CONTINUOUS]
        self.lo: dict[str, float] = {}
        self.span: dict[str, float] = {}
        for c in self.num_cols:
            vals = np.concatenate([to_float(df[c]) for df in reference])
            vals = vals[np.isfinite(vals)]
            lo, hi = (float(vals.min()), float(vals.max())) if vals.size else (0.0, 1.0)
            self.lo[c], self.span[c] = lo, (hi - lo) if hi > lo else 1.0
        self.codes: dict[str, dict[str, int]] = {}
        for c in self.cat_cols:
            labels = pd.unique(pd.concat([canonical(df[c]) for df in [*reference, *others]], ignore_index=True))
            self.codes[c] = {label: i for i, label in enumerate(labels)}

    @property
    def width(self) -> int:
        return len(self.num_cols) + len(self.cat_cols)

    def encode(self, df: pd.DataFrame) -> EncodedRows:
        n = len(df)
        num = np.empty((n, len(self.num_cols)), dtype=np.float32)
        for j, c in enumerate(self.num_cols):
            x = to_float(df[c])
            num[:, j] = np.clip((x - self.lo[c]) / self.span[c], 0.0, 1.0)
        cat = np.empty((n, len(self.cat_cols)), dtype=np.int32)
        for j, c in enumerate(self.cat_cols):
            mapping = self.codes[c]
            cat[:, j] = canonical(df[c]).map(lambda v, m=mapping: m.get(v, -1)).to_numpy(dtype=np.int32)
        return EncodedRows(num, cat)


def gower_matrix(a: EncodedRows, b: EncodedRows) -> np.ndarray:
    """The (len(a), len(b)) float32 matrix of Gower distances, built in row chunks."""
    p = a.num.shape[1] + a.cat.shape[1]
    out = np.zeros((len(a), len(b)), dtype=np.float32)
    if p == 0 or len(a) == 0 or len(b) == 0:
        return out
    step = max(1, _CHUNK_ELEMENTS // max(1, len(b) * p))
    b_num, b_cat = b.num[None, :, :], b.cat[None, :, :]
    b_null = np.isnan(b.num)[None, :, :]
    for start in range(0, len(a), step):
        sl = slice(start, start + step)
        acc = out[sl]
        if a.num.shape[1]:
            diff = np.abs(a.num[sl, None, :] - b_num)
            a_null = np.isnan(a.num[sl])[:, None, :]
            one_null = a_null ^ b_null
            diff = np.where(one_null, np.float32(1.0), diff)
            diff = np.where(a_null & b_null, np.float32(0.0), diff)
            acc += diff.sum(axis=2, dtype=np.float32)
        if a.cat.shape[1]:
            acc += (a.cat[sl, None, :] != b_cat).sum(axis=2, dtype=np.float32)
    out /= np.float32(p)
    return out


def kth_smallest(d: np.ndarray, k: int, axis: int) -> np.ndarray:
    """The k-th smallest distance along `axis` (k=1 is the nearest)."""
    k = min(k, d.shape[axis])
    kth: np.ndarray = np.partition(d, k - 1, axis=axis).take(k - 1, axis=axis)
    return kth
