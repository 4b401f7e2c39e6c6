"""Statistics of grouped records (spec.data.groupBy): entities, their lengths, gaps and within-entity dynamics.

Pure functions of (table, group_by, order_by, columns), shared by the
`sequence_*` metrics (one class per module) and usable on their own. An
entity is the set of rows sharing the key columns' values (nulls are a key
value like any other). "Consecutive rows" are neighbours in time order: rows
sorted by entity, then by `order_by` (stable, nulls last), so the statistics
describe the sequences and not the file's layout; whether the synthetic
table *writes* its rows in that order is `ordered_share`'s question alone.
Without `order_by` the rows' order in the table is the time order.

Everything is vectorised: one stable sort, then numpy on the neighbouring
pairs whose entity codes agree (no per-entity Python loop), so 50,000 rows
take milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from safesynth.metrics.columns import CONTINUOUS, DISCRETE, NULL_TOKEN, canonical, to_float
from safesynth.metrics.context import EvalContext, NotApplicable
from safesynth.metrics.divergence import js_distance

MAX_INTEGER_SUPPORT = 64  # rows-per-entity compared value by value up to this length (data.maxGroupRows' default)
LENGTH_BINS = 32  # equal-width bins of the shared range beyond it
MIN_PAIRS = 3  # fewest consecutive pairs for a lag-1 autocorrelation
ENTITY_LEVEL_SHARE = 0.99  # a column is entity-level when constant within at least this share of real entities


def entity_codes(df: pd.DataFrame, group_by: Sequence[str]) -> np.ndarray:
    """One integer per row naming its entity (0, 1, … in order of first appearance; null keys are a value)."""
    if len(df) == 0:
        return np.zeros(0, dtype=np.int64)
    keys = [canonical(df[c].reset_index(drop=True)) for c in group_by]
    codes: np.ndarray = pd.DataFrame(dict(enumerate(keys))).groupby(
        list(range(len(keys))), sort=False, dropna=False).ngroup().to_numpy(dtype=np.int64)
    return codes


def time_values(values: pd.Series) -> np.ndarray:
    """An order column as float: datetimes in days since 1970, numbers as they are, anything else NaN."""
    if pd.api.types.is_datetime64_any_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return to_float(values)
    x = pd.Series(pd.to_numeric(values, errors="coerce"), index=values.index)
    if x.notna().sum() == 0 and values.notna().any():
        return to_float(pd.Series(pd.to_datetime(values, errors="coerce", format="mixed"), index=values.index))
    numbers: np.ndarray = x.to_numpy(dtype=float)
    return numbers


@dataclass(frozen=True)
class Sequences:
    """A table's rows in time order within entities, and which neighbouring rows belong to one entity."""

    frame: pd.DataFrame  # rows sorted by entity (first appearance), then order_by (stable, nulls last)
    codes: np.ndarray  # entity code per row of `frame`
    pair: np.ndarray  # bool, len(frame) − 1: row i and i+1 are consecutive rows of one entity

    @property
    def entities(self) -> int:
        return int(self.codes.max()) + 1 if len(self.codes) else 0

    def lengths(self) -> np.ndarray:
        """Rows per entity."""
        return np.bincount(self.codes, minlength=self.entities) if len(self.codes) else np.zeros(0, dtype=np.int64)

    def consecutive(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(previous, next) values of every consecutive pair within an entity."""
        return values[:-1][self.pair], values[1:][self.pair]


def sequences(df: pd.DataFrame, group_by: Sequence[str], order_by: Optional[str] = None) -> Sequences:
    """`df`'s entities with their rows in time order (see the module docstring)."""
    df = df.reset_index(drop=True)
    codes = entity_codes(df, group_by)
    if order_by is not None and len(df):
        t = time_values(df[order_by])
        t = np.where(np.isnan(t), np.inf, t)  # nulls last within their entity
        order = np.lexsort((np.arange(len(df)), t, codes))
    else:
        order = np.argsort(codes, kind="stable")
    frame = df.iloc[order].reset_index(drop=True)
    codes = codes[order]
    return Sequences(frame=frame, codes=codes, pair=codes[1:] == codes[:-1])


# ---------------------------------------------------------------------------------------- rows per entity


@dataclass(frozen=True)
class Histogram:
    """Counts of two samples on shared bins, and their JS distance (base 2)."""

    labels: list[str]
    real: np.ndarray
    synthetic: np.ndarray
    js: float
    edges: Optional[list[float]] = None

    def shares(self, which: str) -> list[float]:
        c = self.real if which == "real" else self.synthetic
        total = float(c.sum())
        return [float(x) / total if total else 0.0 for x in c]


def length_histogram(real_lengths: np.ndarray, synthetic_lengths: np.ndarray) -> Histogram:
    """Rows per entity on a shared integer support 1..max (or LENGTH_BINS equal-width bins past 64 rows)."""
    hi = int(max([1, *real_lengths.tolist(), *synthetic_lengths.tolist()]))
    if hi <= MAX_INTEGER_SUPPORT:
        ca = np.bincount(real_lengths, minlength=hi + 1)[1:].astype(float)
        cb = np.bincount(synthetic_lengths, minlength=hi + 1)[1:].astype(float)
        return Histogram([str(k) for k in range(1, hi + 1)], ca, cb, js_distance(ca, cb),
                         edges=[k + 0.5 for k in range(0, hi + 1)])
    edges = np.linspace(0.5, hi + 0.5, LENGTH_BINS + 1)
    ca = np.histogram(real_lengths, bins=edges)[0].astype(float)
    cb = np.histogram(synthetic_lengths, bins=edges)[0].astype(float)
    labels = [f"{int(np.ceil(lo))}–{int(np.floor(up))}" for lo, up in pairwise(edges)]
    return Histogram(labels, ca, cb, js_distance(ca, cb), edges=edges.tolist())


# ------------------------------------------------------------------------------------------------- gaps


def gaps(seq: Sequences, order_by: str) -> np.ndarray:
    """orderBy differences between consecutive rows of each entity (days for dates); NaN where one is null."""
    t = time_values(seq.frame[order_by])
    prev, nxt = seq.consecutive(t)
    diff: np.ndarray = nxt - prev
    return diff


def quantile_edges(real: np.ndarray, bins: int) -> np.ndarray:
    """Interior edges at the real values' quantiles 1/bins … (bins−1)/bins, ties merged."""
    finite = real[np.isfinite(real)]
    if finite.size == 0 or bins < 2:
        return np.zeros(0)
    return np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1]))


def gap_histogram(real_gaps: np.ndarray, synthetic_gaps: np.ndarray, bins: int) -> Histogram:
    """Gaps on quantile bins of the REAL gaps, plus a bin below and one above the real range, plus nulls.

    Quantile rather than equal-width bins: gaps are skewed (visits at 6 months, a year, then yearly,
    plus long silences), and equal-width bins over the combined range would put nearly everything in
    the first bin. Bins: below the real minimum; [min, e_1], (e_1, e_2], …, (e_m, max] with e_k the
    real gaps' k/bins-quantiles (ties merged); above the real maximum; null. The outer bins keep a
    gap shorter or longer than any real one from hiding among the shortest or longest real gaps.
    Bins empty on both sides are dropped (they add nothing to the distance).
    """
    finite_real = real_gaps[np.isfinite(real_gaps)]
    if finite_real.size == 0:
        lo = hi = np.nan
        inner = np.zeros(0)
    else:
        lo, hi = float(finite_real.min()), float(finite_real.max())
        inner = quantile_edges(finite_real, bins)
        inner = inner[(inner > lo) & (inner < hi)] if inner.size else inner

    def counts(x: np.ndarray) -> np.ndarray:
        f = x[np.isfinite(x)]
        if np.isnan(lo):
            return np.array([0.0, float(f.size), 0.0, float(np.count_nonzero(~np.isfinite(x)))])
        below, above = f < lo, f > hi
        mid = np.bincount(np.searchsorted(inner, f[~below & ~above], side="left"), minlength=len(inner) + 1)
        return np.array([below.sum(), *mid, above.sum(), np.count_nonzero(~np.isfinite(x))], dtype=float)

    ca, cb = counts(real_gaps), counts(synthetic_gaps)
    if np.isnan(lo):
        labels = ["(none)", "all", "(none)", "(missing)"]
    else:
        bounds = [lo, *inner.tolist(), hi]
        labels = [f"< {_num(lo)}"] + [f"{_num(a)}–{_num(b)}" for a, b in pairwise(bounds)] + \
                 [f"> {_num(hi)}", "(missing)"]
        if lo == hi:
            labels[1] = _num(lo)
    keep = (ca > 0) | (cb > 0)
    keep[1:-2] = True  # the real range's bins always show, so the chart's axis is the real gaps'
    return Histogram([lab for lab, k in zip(labels, keep) if k], ca[keep], cb[keep], js_distance(ca, cb),
                     edges=inner.tolist())


def _num(x: float) -> str:
    return f"{x:.0f}" if abs(x) >= 10 or float(x).is_integer() else f"{x:.2g}"


# ------------------------------------------------------------------------- within-entity dynamics


def lag1_autocorrelation(seq: Sequences, column: str) -> tuple[Optional[float], int]:
    """Pooled lag-1 autocorrelation: Pearson r of x_t with x_{t−1} over every consecutive pair, both non-null.

    Pooled over entities (one correlation of all pairs), so it counts both how an entity's values
    persist from visit to visit and how entities differ; None with fewer than MIN_PAIRS pairs or
    no variation. Returns (r, pairs used).
    """
    prev, nxt = seq.consecutive(to_float(seq.frame[column]))
    ok = np.isfinite(prev) & np.isfinite(nxt)
    prev, nxt = prev[ok], nxt[ok]
    n = int(prev.size)
    if n < MIN_PAIRS or np.std(prev) == 0 or np.std(nxt) == 0:
        return None, n
    return float(np.corrcoef(prev, nxt)[0, 1]), n


def mean_abs_change(seq: Sequences, column: str) -> tuple[Optional[float], int]:
    """Mean |x_t − x_{t−1}| over consecutive pairs with both values present (days for dates); (value, pairs)."""
    prev, nxt = seq.consecutive(to_float(seq.frame[column]))
    d = np.abs(nxt - prev)
    d = d[np.isfinite(d)]
    return (float(d.mean()) if d.size else None), int(d.size)


def change_share(seq: Sequences, column: str) -> tuple[Optional[float], int]:
    """Share of consecutive pairs whose value changes (a category; null is a value); (share, pairs)."""
    labels = canonical(seq.frame[column]).to_numpy(dtype=object)
    prev, nxt = seq.consecutive(labels)
    return (float(np.mean(prev != nxt)) if prev.size else None), int(prev.size)


# ------------------------------------------------------------------------------ entity-level columns


def constant_shares(df: pd.DataFrame, group_by: Sequence[str], columns: Sequence[str],
                    min_rows: int = 2) -> tuple[dict[str, Optional[float]], int]:
    """Per column, the share of entities (with at least `min_rows` rows) in which it holds one value.

    Null counts as a value (an entity whose value goes missing is not constant). Entities of one row
    are constant by construction and left out. Returns ({column: share or None}, entities counted).
    """
    df = df.reset_index(drop=True)
    codes = entity_codes(df, group_by)
    lengths = np.bincount(codes) if len(codes) else np.zeros(0, dtype=np.int64)
    multi = np.flatnonzero(lengths >= min_rows)
    if multi.size == 0 or not columns:
        return {c: None for c in columns}, int(multi.size)
    keep = np.isin(codes, multi)
    labels = pd.DataFrame({c: canonical(df[c]).to_numpy()[keep] for c in columns})
    distinct = labels.groupby(codes[keep], sort=False).nunique(dropna=False)
    return {c: float((distinct[c] <= 1).mean()) for c in columns}, int(multi.size)


def entity_level_columns(shares: dict[str, Optional[float]], threshold: float = ENTITY_LEVEL_SHARE) -> list[str]:
    """Columns constant within at least `threshold` of the real entities."""
    return [c for c, s in shares.items() if s is not None and s >= threshold]


# ----------------------------------------------------------------------------------------- ordering


@dataclass(frozen=True)
class Ordering:
    entities: int
    ordered: int  # entities whose orderBy values, read in the table's row order, never decrease
    contiguous: int  # entities whose rows form one block in the table

    @property
    def ordered_share(self) -> float:
        return self.ordered / self.entities if self.entities else float("nan")

    @property
    def contiguous_share(self) -> float:
        return self.contiguous / self.entities if self.entities else float("nan")


def ordering(df: pd.DataFrame, group_by: Sequence[str], order_by: str) -> Ordering:
    """How many entities have their rows in non-decreasing orderBy order AS WRITTEN, and in one block.

    Reads rows in the table's order (a stable sort by entity keeps it within each entity); a null
    orderBy value is skipped, not counted as a step back.
    """
    df = df.reset_index(drop=True)
    codes = entity_codes(df, group_by)
    n = int(codes.max()) + 1 if len(codes) else 0
    if n == 0:
        return Ordering(0, 0, 0)
    order = np.argsort(codes, kind="stable")
    c = codes[order]
    t = time_values(df[order_by])[order]
    back = np.zeros(n, dtype=bool)
    # compare each row with the entity's last non-null value before it: forward-fill nulls per entity
    filled = pd.Series(t).groupby(c).ffill().to_numpy()
    same = c[1:] == c[:-1]
    step_back = same & np.isfinite(t[1:]) & np.isfinite(filled[:-1]) & (t[1:] < filled[:-1])
    back[c[1:][step_back]] = True
    runs = np.bincount(codes[np.r_[True, codes[1:] != codes[:-1]]], minlength=n)
    return Ordering(entities=n, ordered=int(n - back.sum()), contiguous=int((runs == 1).sum()))


# ------------------------------------------------------------------------------ entity features


def entity_features(seq: Sequences, *, entity_level: Sequence[str], numeric: Sequence[str],
                    categorical: Sequence[str]) -> tuple[pd.DataFrame, dict[str, bool]]:
    """One row per entity for the entity-level membership attack, and which features are numeric.

    Features: the row count; each entity-level column's first value; first, last and mean of each
    other numeric/date column (in time order); the most frequent value of each other categorical
    column (ties: the first in sorted order). Returns (features, {feature: is numeric}).
    """
    codes, n = seq.codes, seq.entities
    frame = seq.frame
    out: dict[str, object] = {"rows": seq.lengths().astype(float)}
    numeric_feature = {"rows": True}
    first = np.r_[True, codes[1:] != codes[:-1]] if len(codes) else np.zeros(0, dtype=bool)  # an entity's first row
    num_set = set(numeric)
    for c in entity_level:
        col = frame[c].to_numpy()[first]
        out[c] = to_float(pd.Series(col)) if c in num_set else canonical(pd.Series(col)).to_numpy()
        numeric_feature[c] = c in num_set
    for c in numeric:
        if c in entity_level:
            continue
        x = to_float(frame[c])
        s = pd.Series(x).groupby(codes)
        out[f"{c}:first"] = s.first().reindex(range(n)).to_numpy()  # first non-null value
        out[f"{c}:last"] = s.last().reindex(range(n)).to_numpy()
        out[f"{c}:mean"] = s.mean().reindex(range(n)).to_numpy()
        numeric_feature.update({f"{c}:first": True, f"{c}:last": True, f"{c}:mean": True})
    for c in categorical:
        if c in entity_level:
            continue
        labels = canonical(frame[c])
        counts = pd.DataFrame({"e": codes, "v": labels.to_numpy()}).value_counts(sort=False).reset_index(name="k")
        counts = counts.sort_values(["e", "k", "v"], ascending=[True, False, True], kind="stable")
        mode = counts.drop_duplicates("e").set_index("e")["v"].reindex(range(n), fill_value=NULL_TOKEN)
        out[f"{c}:mode"] = mode.to_numpy()
        numeric_feature[f"{c}:mode"] = False
    return pd.DataFrame(out), numeric_feature


# ------------------------------------------------------------------------------- for the metrics


@dataclass(frozen=True)
class Grouping:
    """spec.data.groupBy / orderBy as one evaluation sees them, checked against its tables."""

    group_by: tuple[str, ...]
    order_by: Optional[str]
    numeric: list[str]  # numeric and date columns other than the keys and orderBy
    categorical: list[str]  # categorical and boolean columns other than the keys and orderBy


def grouping(ctx: EvalContext, *, need_order: bool = False) -> Grouping:
    """The grouping of `ctx`, or NotApplicable with the reason (no groupBy, a key missing, no orderBy)."""
    group_by, order_by = tuple(ctx.options.group_by), ctx.options.order_by
    if not group_by:
        raise NotApplicable("no spec.data.groupBy: the table's rows are not grouped into entities")
    missing = [c for c in (*group_by, *([order_by] if order_by else [])) if c not in ctx.kinds]
    if missing:
        raise NotApplicable(f"column(s) {', '.join(map(repr, missing))} named by spec.data.groupBy/orderBy "
                            "are not in the evaluated table")
    if need_order and not order_by:
        raise NotApplicable("no spec.data.orderBy: rows have no time order within an entity")
    skip = {*group_by, *([order_by] if order_by else [])}
    return Grouping(group_by=group_by, order_by=order_by,
                    numeric=[c for c in ctx.columns_of(*CONTINUOUS) if c not in skip],
                    categorical=[c for c in ctx.columns_of(*DISCRETE) if c not in skip])
