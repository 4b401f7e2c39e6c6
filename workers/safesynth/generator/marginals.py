"""DP one-way marginals: the public pretraining rows follow each column's noisy distribution.

Why: public rows drawn uniformly from the domains teach the model the row
layout but nothing about the values, so the short DP fine-tuning (a few hundred
noisy steps) has to learn every column's distribution and its correlations at
once; measured in benchmarks/RESULTS.md, DP runs landed far below an
independent-marginals floor on column distributions. Releasing each column's
histogram with the Laplace mechanism costs a small, counted part of epsilon;
pretraining on rows sampled from those histograms starts DP-SGD at that floor,
and DP-SGD then spends its budget on what marginals cannot say (correlations).

Privacy: each histogram is over a data-independent domain (the column's
declared or DP-released categories, or equal-width bins between its enforced
or released bounds) plus one bucket for nulls; values outside the domain fall
in no bucket (categories) or in the end bins (numbers). Adding or removing one
row changes one count by 1 in each of the k histograms (L1 sensitivity k over
all of them), so discrete Laplace noise (OpenDP's exact sampler, `noise.py`)
of scale k/epsilon on every count gives epsilon-DP for all of them together
(pure, no delta). Negative noisy counts are clipped to zero and the rest normalized:
post-processing. The bin count depends only on the row count n, which dp.py
treats as public, and on epsilon.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Sequence

import numpy as np

from safesynth.generator import noise
from safesynth.generator.column_info import ColumnInfo
from safesynth.generator.dp import column_numbers
from safesynth.generator.serialize import to_field

if TYPE_CHECKING:
    import pandas as pd

MIN_BINS, MAX_BINS = 4, 32
ROWS_PER_NOISE = 10.0  # bins are sized so a bin's expected count is ~ this many times the noise scale


@dataclass
class Marginal:
    """A column's noisy distribution: weights over `categories` or over bins `edges`, and the null share."""

    weights: np.ndarray  # one per category or bin, summing with null_weight to 1
    null_weight: float
    categories: Optional[list[str]] = None
    edges: Optional[np.ndarray] = None  # bins [edges[i], edges[i+1]) in the column's numeric scale

    def probabilities(self) -> Optional[np.ndarray]:
        """The weights renormalized over non-null values; None when the noise left them no mass."""
        total = self.weights.sum()
        return self.weights / total if total > 0 else None

    def over(self, categories: Sequence[str]) -> Optional[np.ndarray]:
        """probabilities() when this marginal counts exactly `categories`, else None."""
        return self.probabilities() if self.categories == list(categories) else None


def bin_count(n_rows: int, epsilon_per_column: float) -> int:
    """Equal-width bins per numeric column: fewer when the noise would swamp small counts."""
    return int(np.clip(n_rows * epsilon_per_column / ROWS_PER_NOISE, MIN_BINS, MAX_BINS))


def domain_of(col: ColumnInfo, bounds: tuple[float, float], bins: int) -> tuple[Optional[list[str]], Optional[np.ndarray]]:
    """(categories, edges) the histogram counts over; both None for text (only its null share is released)."""
    if col.kind in ("categorical", "boolean"):
        return (list(col.categories) if col.categories else None), None
    if col.kind in ("integer", "float", "datetime"):
        lo, hi = bounds
        if col.kind == "integer":
            hi = hi + 1  # integer k falls in [k, k+1)
        return None, np.linspace(lo, hi, bins + 1) if hi > lo else np.array([lo, lo + 1.0])
    return None, None


def true_counts(values: Sequence[object] | np.ndarray, nulls: np.ndarray, categories: Optional[list[str]],
                edges: Optional[np.ndarray]) -> np.ndarray:
    """Exact counts per bucket (the last one is nulls): the quantity the Laplace noise hides, sensitivity 1."""
    present = ~nulls
    if categories is not None:
        index = {c: i for i, c in enumerate(categories)}
        counts = np.zeros(len(categories) + 1)
        for v, ok in zip(values, present):
            if ok and v in index:
                counts[index[v]] += 1
    elif edges is not None:
        x = np.asarray(values, dtype=float)[present]
        idx = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
        counts = np.append(np.bincount(idx, minlength=len(edges) - 1).astype(float), 0.0)
    else:  # text, or a category column with no known categories: present vs null
        counts = np.array([float(present.sum()), 0.0])
    counts[-1] = float(nulls.sum())
    return counts


def noisy_marginal(counts: np.ndarray, scale: float, categories: Optional[list[str]],
                   edges: Optional[np.ndarray]) -> Marginal:
    """The counts with discrete Laplace(scale) noise (noise.laplace_counts), clipped at 0 and normalized."""
    noisy = np.clip(noise.laplace_counts(counts, scale), 0.0, None)
    if noisy.sum() <= 0:  # nothing stood out from the noise: uniform over the domain, no nulls
        noisy = np.append(np.ones(len(counts) - 1), 0.0)
    weights = noisy / noisy.sum()
    return Marginal(weights=weights[:-1], null_weight=float(weights[-1]), categories=categories, edges=edges)


def release_marginals(df: "pd.DataFrame", cols: Sequence[ColumnInfo], epsilon: float,
                      bounds: dict[str, tuple[float, float]], contribution: int = 1) -> dict[str, Marginal]:
    """One noisy marginal per modeled column, epsilon-DP in total (see the module docstring).

    `bounds` holds each numeric or date column's public range (enforced or default, see public._bounds).
    `contribution`: rows one privacy unit adds (an entity's rows under groupBy), which scales the noise.
    """
    modeled = [c for c in cols if c.modeled]
    if not modeled or epsilon <= 0:
        return {}
    scale = len(modeled) * contribution / epsilon
    bins = bin_count(len(df), epsilon / (len(modeled) * contribution))
    out = {}
    for col in modeled:
        categories, edges = domain_of(col, bounds.get(col.name, (0.0, 1.0)), bins)
        counts = column_counts(df[col.name], col, categories, edges)
        out[col.name] = noisy_marginal(counts, scale, categories, edges)
    return out


def column_counts(s: "pd.Series", col: ColumnInfo, categories: Optional[list[str]],
                  edges: Optional[np.ndarray]) -> np.ndarray:
    """`true_counts` of one column over its domain: numbers and dates binned on `edges`, else field strings."""
    values: Sequence[object] | np.ndarray
    if edges is not None:
        values = column_numbers(s, col.kind)
        nulls = np.isnan(values)
    else:
        values = [to_field(v, col) for v in s.tolist()]
        nulls = np.array([f is None for f in values], dtype=bool)
    return true_counts(values, nulls, categories, edges)


def fold_unreleased(fields: list[list[Optional[str]]], cols: Sequence[ColumnInfo],
                    marginals: dict[str, Marginal]) -> list[list[Optional[str]]]:
    """Training fields with each category outside its column's enforced list redrawn from the released ones.

    Why: under DP a column's categories are often only partly released (those
    frequent enough to pass the threshold). The grammar then admits only those,
    and whatever mass the model learned for an unreleased category spilled onto
    the null token at generation (benchmarks/RESULTS.md: covid payor_group 45%
    null in the data, 71% in the output). Redrawing such values from the
    column's DP marginal (uniform without one) teaches the model the released
    distribution instead.

    DP is unaffected because the rewrite is a randomized map applied to each
    row on its own: row i's output depends only on row i, DP-released facts and
    fresh randomness. Then for neighbours D and D + {x}, every other row's
    output has the same distribution in both, so the rewritten tables are
    neighbours too (couple the draws row by row), and DP-SGD's guarantee on
    them carries over. That needs randomness no one can replay: a generator
    seeded from the public spec (as before issue 18) ties row i's redraw to how
    many rows before it were redrawn, so adding one row changed the others.
    Here the draws come from `noise.secret_rng`. Nothing about how many values
    were folded is reported (that count would come from the private data).
    """
    rng = noise.secret_rng()
    modeled = [c for c in cols if c.modeled]
    folds = []
    for j, col in enumerate(modeled):
        if col.kind == "categorical" and col.categories:
            m = marginals.get(col.name)
            folds.append((j, col.categories, set(col.categories), None if m is None else m.over(col.categories)))
    if not folds:
        return fields
    out = [list(r) for r in fields]
    for j, cats, allowed, p in folds:
        for row in out:
            if row[j] is not None and row[j] not in allowed:
                row[j] = cats[int(rng.choice(len(cats), p=p))]
    return out
