"""Jensen–Shannon distance between two samples, the building block of the stability scores.

JS distance (base 2) = sqrt(½·KL(P‖M) + ½·KL(Q‖M)), M = ½(P+Q): symmetric,
0 for identical distributions, 1 for disjoint supports (Lin 1991; Endres &
Schindelin 2003 for the metric property). Numbers are compared on shared bins
over the combined range, categories on their frequencies, and nulls count as
one more bin, so a generator that invents or loses missing values pays for it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial.distance import jensenshannon

DEFAULT_BINS = 20  # equal-width bins over the combined range, at most
MIN_BINS = 5


def bins_for(n_a: int, n_b: int) -> int:
    """min(20, max(5, √n)) bins for samples of n_a and n_b values, n the smaller.

    JS distance between two finite samples of the SAME distribution is not 0:
    its expectation grows like sqrt(bins/n). Capping the bins at √n keeps that
    floor near 0.1–0.2 for small samples (40 embedded texts, a 100-row table)
    instead of letting noise read as a difference; 20 bins from 400 values up.
    """
    return int(min(DEFAULT_BINS, max(MIN_BINS, round(min(n_a, n_b) ** 0.5))))


def js_distance(p: np.ndarray, q: np.ndarray) -> float:
    """JS distance (base 2) of two count or probability vectors over the same bins."""
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    if p.sum() <= 0 and q.sum() <= 0:
        return 0.0
    if p.sum() <= 0 or q.sum() <= 0:
        return 1.0
    d = float(jensenshannon(p / p.sum(), q / q.sum(), base=2))
    return 0.0 if np.isnan(d) else min(max(d, 0.0), 1.0)


def shared_bin_edges(a: np.ndarray, b: np.ndarray, bins: int = DEFAULT_BINS) -> np.ndarray | None:
    """Equal-width edges over the combined finite range of a and b; None when both are empty."""
    both = np.concatenate([a[np.isfinite(a)], b[np.isfinite(b)]])
    if both.size == 0:
        return None
    lo, hi = float(both.min()), float(both.max())
    if hi <= lo:
        hi = lo + 1.0
    return np.linspace(lo, hi, bins + 1)


def numeric_histograms(a: np.ndarray, b: np.ndarray, bins: int = DEFAULT_BINS) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Counts of a and b on shared bins, with a last bin for nulls."""
    edges = shared_bin_edges(a, b, bins)
    out = []
    for x in (a, b):
        finite = x[np.isfinite(x)]
        counts = np.histogram(finite, bins=edges)[0] if edges is not None else np.zeros(0)
        out.append(np.append(counts, np.count_nonzero(~np.isfinite(x))))
    return out[0], out[1], edges


def numeric_js(a: np.ndarray, b: np.ndarray, bins: int = DEFAULT_BINS) -> float:
    ca, cb, _ = numeric_histograms(a, b, bins)
    return js_distance(ca, cb)


def category_counts(a: pd.Series, b: pd.Series) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Counts of each label (canonical text, nulls included) in a and b over the union of labels."""
    ca, cb = a.value_counts(dropna=False), b.value_counts(dropna=False)
    labels = list(ca.index.union(cb.index, sort=False))
    return [str(x) for x in labels], ca.reindex(labels, fill_value=0).to_numpy(float), cb.reindex(labels, fill_value=0).to_numpy(float)


def categorical_js(a: pd.Series, b: pd.Series) -> float:
    _, ca, cb = category_counts(a, b)
    return js_distance(ca, cb)
