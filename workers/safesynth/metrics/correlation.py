"""Column correlation stability: do pairs of columns relate in the synthetic table as in the real one?

Association matrix A over the tabular columns, computed on each table:
  numeric–numeric:         Pearson r (pairwise complete rows), signed;
  categorical–categorical: Theil's U(x|y) = (H(x) − H(x|y)) / H(x), the share of x's entropy
                           that y explains (asymmetric, so A[i,j] ≠ A[j,i]); nulls are a category;
  categorical–numeric:     correlation ratio η = sqrt(Σ_k n_k(ȳ_k − ȳ)² / Σ_i(y_i − ȳ)²).
Dates count as numbers. Statistic: mean |A_real − A_synth| over off-diagonal
entries defined in both tables; score through the reference product's curve
(scores.correlation_score). Categories beyond the real table's 100 most
frequent are pooled into one, so wide columns stay cheap; every row is used.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from safesynth.metrics import scores
from safesynth.metrics.base import Group, Metric, MetricResult, NotApplicable
from safesynth.metrics.columns import CONTINUOUS, canonical, to_float
from safesynth.metrics.context import EvalContext

MAX_CATEGORIES = 100


class ColumnCorrelation(Metric):
    name = "column_correlation"
    title = "Column correlation stability"
    group = Group.QUALITY
    explanation = ("Compares how every pair of columns is associated (Pearson, Theil's U, correlation ratio) in "
                   "the real and the synthetic table, by the mean absolute difference of the two matrices.")
    advice = ("Check the difference heatmap for the pairs that moved most. Relations are learned last: train "
              "longer, lower the sampling temperature, or give the generator more rows; with DP, a larger "
              "epsilon or a longer non-private warm-up helps.")

    def compute(self, ctx: EvalContext) -> MetricResult:
        cols = ctx.tabular
        if len(cols) < 2:
            raise NotApplicable("fewer than two numeric, date, categorical or boolean columns")
        continuous = [ctx.kinds[c] in CONTINUOUS for c in cols]
        codes_r, codes_s = _category_codes(ctx.real, ctx.synthetic, cols, continuous)
        a_real = association_matrix(ctx.real, cols, continuous, codes_r)
        a_syn = association_matrix(ctx.synthetic, cols, continuous, codes_s)
        diff = np.abs(a_real - a_syn)
        off = ~np.eye(len(cols), dtype=bool)
        defined = off & np.isfinite(diff)
        if not defined.any():
            raise NotApplicable("no column pair has a defined association (constant columns)")
        mad = float(diff[defined].mean())
        undefined = int((off & ~np.isfinite(diff)).sum())
        notes = [f"{undefined} of {int(off.sum())} ordered pairs undefined (a constant column) and left out"] if undefined else []
        worst = sorted(
            ({"column1": cols[i], "column2": cols[j], "real": float(a_real[i, j]), "synthetic": float(a_syn[i, j]),
              "absDiff": float(diff[i, j])} for i, j in zip(*np.nonzero(defined))
             if i < j or not (continuous[i] or continuous[j])),  # symmetric measures listed once
            key=lambda r: -r["absDiff"],
        )
        return self.result(
            scores.correlation_score(mad),
            statistic={"meanAbsDiff": mad, "maxAbsDiff": float(diff[defined].max())},
            params={"pairsUsed": int(defined.sum()), "pairsUndefined": undefined, "columns": len(cols),
                    "maxCategories": MAX_CATEGORIES, "measures": "pearson / theilsU / correlationRatio"},
            details={"largestDifferences": worst[:20]},
            notes=notes,
            visual={"columns": cols, "real": a_real.tolist(), "synthetic": a_syn.tolist(), "diff": diff.tolist()},
        )


def _category_codes(real: pd.DataFrame, synthetic: pd.DataFrame, cols: list[str], continuous: list[bool]
                    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Integer codes per categorical column, shared by both tables; rare real categories pooled."""
    cr, cs = {}, {}
    for c, cont in zip(cols, continuous):
        if cont:
            continue
        lr, ls = canonical(real[c]), canonical(synthetic[c])
        top = lr.value_counts().index[:MAX_CATEGORIES]
        mapping = {label: i for i, label in enumerate(top)}
        other = len(mapping)
        cr[c] = lr.map(mapping).fillna(other).to_numpy(dtype=np.int64)
        cs[c] = ls.map(mapping).fillna(other).to_numpy(dtype=np.int64)
    return cr, cs


def association_matrix(df: pd.DataFrame, cols: list[str], continuous: list[bool],
                       codes: dict[str, np.ndarray]) -> np.ndarray:
    k = len(cols)
    a = np.full((k, k), np.nan)
    num = {c: to_float(df[c]) for c, cont in zip(cols, continuous) if cont}
    if num:
        names = list(num)
        corr = pd.DataFrame(num).corr(method="pearson", min_periods=2).to_numpy()
        pos = {c: i for i, c in enumerate(names)}
    for i, (ci, conti) in enumerate(zip(cols, continuous)):
        a[i, i] = 1.0
        for j, (cj, contj) in enumerate(zip(cols, continuous)):
            if i == j:
                continue
            if conti and contj:
                a[i, j] = corr[pos[ci], pos[cj]]
            elif not conti and not contj:
                a[i, j] = theils_u(codes[ci], codes[cj])
            elif conti:
                a[i, j] = correlation_ratio(codes[cj], num[ci])
            else:
                a[i, j] = correlation_ratio(codes[ci], num[cj])
    return a


def theils_u(x: np.ndarray, y: np.ndarray) -> float:
    """U(x|y) in [0, 1] from integer codes; NaN when x is constant (nothing to explain).

    Ours on scipy's entropy: neither scipy nor scikit-learn has Theil's U (the uncertainty coefficient).
    """
    if len(x) == 0:
        return np.nan
    kx, ky = int(x.max()) + 1, int(y.max()) + 1
    joint = np.bincount(x * ky + y, minlength=kx * ky).reshape(kx, ky).astype(float)
    hx = float(stats.entropy(joint.sum(axis=1)))
    if hx <= 0:
        return np.nan
    py = joint.sum(axis=0)
    seen = py > 0
    h_x_given_y = float(stats.entropy(joint[:, seen], axis=0) @ (py[seen] / len(x)))
    return float(min(1.0, max(0.0, (hx - h_x_given_y) / hx)))


def correlation_ratio(categories: np.ndarray, values: np.ndarray) -> float:
    """η in [0, 1]; rows with a null number are skipped, a null category is a category.

    Ours: neither scipy nor scikit-learn has the correlation ratio; it is two bincounts.
    """
    ok = np.isfinite(values)
    cat, y = categories[ok], values[ok]
    if y.size < 2:
        return np.nan
    total = float(((y - y.mean()) ** 2).sum())
    if total <= 0:
        return np.nan
    n_k = np.bincount(cat)
    sums = np.bincount(cat, weights=y)
    present = n_k > 0
    means = sums[present] / n_k[present]
    between = float((n_k[present] * (means - y.mean()) ** 2).sum())
    return float(np.sqrt(min(1.0, max(0.0, between / total))))
