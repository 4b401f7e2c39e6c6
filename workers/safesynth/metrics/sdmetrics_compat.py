"""SDMetrics-compatible figures: our implementation of SDMetrics 0.32's QualityReport definitions.

Shown alongside SQS so users can compare with tools that report SDMetrics
numbers. Written from the published definitions, not by calling sdmetrics
(the package is a dev dependency only: its demo tables are the golden test,
tests/workers/metrics/test_sdmetrics_compat.py, which must reproduce Column
Shapes 0.8511, Column Pair Trends 0.7023, overall 0.7767).

Column metrics (scale 0–1, higher is better), nulls dropped:
  KSComplement  = 1 − D, D the two-sample Kolmogorov–Smirnov statistic
                  (numbers; dates as nanoseconds; values rounded to 14 decimals as SDMetrics does);
  TVComplement  = 1 − ½ Σ_c |f_R(c) − f_S(c)| over categories (categorical, boolean).
Pair metrics:
  CorrelationSimilarity = 1 − |ρ_R − ρ_S| / 2, Pearson on rows where both are present
                  (both continuous); counted only when |ρ_R| > 0.5 (QualityReport's threshold);
  ContingencySimilarity = 1 − ½ Σ_(a,b) |P_R(a,b) − P_S(a,b)| (nulls are a category); counted only
                  when the real table's Cramér's V > 0.3. In a mixed pair the continuous column is
                  binned first, each table on its own `np.histogram_bin_edges` (10 equal bins over
                  that table's range; `np.digitize`, nulls in the last bin), exactly as the
                  QualityReport's ColumnPairTrends property does.
Column Shapes = mean over columns; Column Pair Trends = mean over counted pairs;
overall = mean of the two. Identifier, text and empty columns are not scored,
as in SDMetrics (sdtypes id / text are skipped).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from safesynth.metrics.base import Goal, Group, Metric, MetricResult, NotApplicable
from safesynth.metrics.columns import CONTINUOUS, DISCRETE, Kind, canonical
from safesynth.metrics.context import EvalContext

MAX_DECIMALS = 14  # sys.float_info.dig - 1, SDMetrics' rounding before KS
REAL_CORRELATION_THRESHOLD = 0.5
REAL_ASSOCIATION_THRESHOLD = 0.3
PAIR_BINS = 10


def _as_number(values: pd.Series) -> np.ndarray:
    """Numbers as float; dates as int64 nanoseconds (as float); nulls as NaN."""
    if pd.api.types.is_datetime64_any_dtype(values):
        out: np.ndarray = values.to_numpy(dtype="datetime64[ns]").astype("int64").astype(float)
        out[values.isna().to_numpy()] = np.nan
        return out
    numbers: np.ndarray = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    return numbers


class KSComplement:
    """1 − two-sample KS statistic for a continuous column."""

    name = "KSComplement"
    goal = Goal.MAXIMIZE
    min_value, max_value = 0.0, 1.0

    @staticmethod
    def compute(real: pd.Series, synthetic: pd.Series) -> float:
        a = _as_number(real)
        b = _as_number(synthetic)
        a, b = np.round(a[~np.isnan(a)], MAX_DECIMALS), np.round(b[~np.isnan(b)], MAX_DECIMALS)
        if a.size == 0 or b.size == 0:
            return math.nan
        # Only the statistic D is used: "asymp" skips the exact p-value, which costs O(n·m) on larger samples.
        return float(1.0 - stats.ks_2samp(a, b, method="asymp").statistic)


class TVComplement:
    """1 − total variation distance of a discrete column's category frequencies."""

    name = "TVComplement"
    goal = Goal.MAXIMIZE
    min_value, max_value = 0.0, 1.0

    @staticmethod
    def compute(real: pd.Series, synthetic: pd.Series) -> float:
        r, s = real.dropna(), synthetic.dropna()
        if r.empty or s.empty:
            return math.nan
        return 1.0 - total_variation(canonical(r).value_counts(), canonical(s).value_counts())


class CorrelationSimilarity:
    """1 − |ρ_R − ρ_S|/2 for two continuous columns (Pearson)."""

    name = "CorrelationSimilarity"
    goal = Goal.MAXIMIZE
    min_value, max_value = 0.0, 1.0

    @staticmethod
    def compute_breakdown(real: tuple[pd.Series, pd.Series], synthetic: tuple[pd.Series, pd.Series],
                          real_correlation_threshold: float = 0.0) -> dict[str, float]:
        rho = []
        for pair in (real, synthetic):
            x, y = _as_number(pair[0]), _as_number(pair[1])
            ok = ~(np.isnan(x) | np.isnan(y))
            x, y = x[ok], y[ok]
            # SDMetrics rejects a column that is constant over all its values (nulls included).
            if pair[0].nunique() <= 1 or pair[1].nunique() <= 1 or x.size < 2 or x.std() == 0 or y.std() == 0:
                rho.append(math.nan)
            else:
                rho.append(float(np.corrcoef(x, y)[0, 1]))
        r, s = rho
        if math.isnan(r) or abs(r) <= real_correlation_threshold or math.isnan(s):
            return {"score": math.nan, "real": r, "synthetic": s}
        return {"score": 1.0 - abs(r - s) / 2.0, "real": r, "synthetic": s}


class ContingencySimilarity:
    """1 − total variation distance of the joint (a, b) frequencies of two discrete columns."""

    name = "ContingencySimilarity"
    goal = Goal.MAXIMIZE
    min_value, max_value = 0.0, 1.0

    @staticmethod
    def compute_breakdown(real: tuple[pd.Series, pd.Series], synthetic: tuple[pd.Series, pd.Series],
                          real_association_threshold: float = 0.0) -> dict[str, float]:
        pr = _joint(real)
        association = math.nan
        if real_association_threshold > 0:
            association = cramers_v(pr)
            if math.isnan(association) or association <= real_association_threshold:
                return {"score": math.nan, "realAssociation": association}
        return {"score": 1.0 - total_variation(pr, _joint(synthetic)), "realAssociation": association}


def total_variation(counts_a: pd.Series, counts_b: pd.Series) -> float:
    """½ Σ_c |f_a(c) − f_b(c)| of two count Series over the union of their labels (absent labels count 0).

    Ours: scipy has no total variation distance; it is one line over aligned frequencies.
    """
    idx = counts_a.index.union(counts_b.index)
    fa = counts_a.reindex(idx, fill_value=0) / counts_a.sum()
    fb = counts_b.reindex(idx, fill_value=0) / counts_b.sum()
    return float(0.5 * np.abs(fa - fb).sum())


def _joint(pair: tuple[pd.Series, pd.Series]) -> pd.Series:
    """Counts of each (a, b) label pair, nulls as a label."""
    frame = pd.DataFrame({"a": canonical(pd.Series(pair[0])), "b": canonical(pd.Series(pair[1]))})
    return frame.value_counts(sort=False)


def cramers_v(joint_counts: pd.Series) -> float:
    """Cramér's V = sqrt(χ²/n / (min(r, c) − 1)) of a contingency table, χ² without continuity correction.

    NaN (rather than scipy's error) for an empty table or one with a single row or column.
    """
    table = joint_counts.unstack(fill_value=0).to_numpy(dtype=np.int64)
    if table.sum() == 0 or min(table.shape) < 2:
        return math.nan
    return float(stats.contingency.association(table, method="cramer", correction=False))


def _binned(values: pd.Series) -> pd.Series:
    """A continuous column as bin numbers on its own 10 equal-width bins (QualityReport's discretization)."""
    x = _as_number(values)
    finite = x[~np.isnan(x)]
    edges = np.histogram_bin_edges(finite, bins=PAIR_BINS)
    return pd.Series(np.digitize(x, bins=edges), index=values.index)


def quality_report(real: pd.DataFrame, synthetic: pd.DataFrame, kinds: dict[str, Kind]) -> dict[str, Any]:
    """Column Shapes, Column Pair Trends and overall, with per-column and per-pair rows."""
    cols = [c for c, k in kinds.items() if k in (*CONTINUOUS, *DISCRETE)]
    shapes: list[dict[str, Any]] = []
    for c in cols:
        metric = KSComplement if kinds[c] in CONTINUOUS else TVComplement
        shapes.append({"column": c, "metric": metric.name, "score": metric.compute(real[c], synthetic[c])})
    binned_r = {c: _binned(real[c]) for c in cols if kinds[c] in CONTINUOUS}
    binned_s = {c: _binned(synthetic[c]) for c in cols if kinds[c] in CONTINUOUS}
    pairs: list[dict[str, Any]] = []
    for a, b in itertools.combinations(cols, 2):
        ca, cb = kinds[a] in CONTINUOUS, kinds[b] in CONTINUOUS
        if ca and cb:
            br = CorrelationSimilarity.compute_breakdown((real[a], real[b]), (synthetic[a], synthetic[b]),
                                                         REAL_CORRELATION_THRESHOLD)
            row = {"metric": CorrelationSimilarity.name, "real": br["real"], "synthetic": br["synthetic"]}
        else:
            ra = binned_r[a] if ca else real[a]
            rb = binned_r[b] if cb else real[b]
            sa = binned_s[a] if ca else synthetic[a]
            sb = binned_s[b] if cb else synthetic[b]
            br = ContingencySimilarity.compute_breakdown((ra, rb), (sa, sb), REAL_ASSOCIATION_THRESHOLD)
            row = {"metric": ContingencySimilarity.name, "realAssociation": br["realAssociation"]}
        pairs.append({"column1": a, "column2": b, **row, "score": br["score"],
                      "meetsThreshold": not math.isnan(br["score"])})
    shape_scores = [r["score"] for r in shapes if not math.isnan(r["score"])]
    pair_scores = [r["score"] for r in pairs if r["meetsThreshold"]]
    column_shapes = float(np.mean(shape_scores)) if shape_scores else math.nan
    pair_trends = float(np.mean(pair_scores)) if pair_scores else math.nan
    props = [v for v in (column_shapes, pair_trends) if not math.isnan(v)]
    return {
        "columnShapes": column_shapes,
        "columnPairTrends": pair_trends,
        "overall": float(np.mean(props)) if props else math.nan,
        "shapes": shapes,
        "pairs": pairs,
    }


class SDMetricsQuality(Metric):
    name = "sdmetrics_quality"
    title = "SDMetrics-compatible quality (0–1)"
    group = Group.ALONGSIDE
    min_value, max_value = 0.0, 1.0
    explanation = ("SDMetrics 0.32 QualityReport figures, computed by our own code from its published "
                   "definitions: Column Shapes (KSComplement / TVComplement), Column Pair Trends "
                   "(CorrelationSimilarity / ContingencySimilarity over pairs that are associated in the real "
                   "table) and their mean. Not part of SQS; shown for comparison with other tools.")
    advice = "Read together with the column and correlation stability scores above."

    def compute(self, ctx: EvalContext) -> MetricResult:
        kinds = {c: k for c, k in ctx.kinds.items() if k in (*CONTINUOUS, *DISCRETE)}
        if not kinds:
            raise NotApplicable("no numeric, date, categorical or boolean columns")
        rep = quality_report(ctx.real, ctx.synthetic, kinds)
        counted = sum(1 for p in rep["pairs"] if p["meetsThreshold"])
        notes = [] if counted else ["no column pair is associated enough in the real table to count "
                                    "(|Pearson| > 0.5 or Cramér's V > 0.3), so Column Pair Trends is undefined"]
        return self.result(
            rep["overall"],
            statistic={"columnShapes": rep["columnShapes"], "columnPairTrends": rep["columnPairTrends"],
                       "overall": rep["overall"]},
            params={"realCorrelationThreshold": REAL_CORRELATION_THRESHOLD,
                    "realAssociationThreshold": REAL_ASSOCIATION_THRESHOLD, "pairBins": PAIR_BINS,
                    "pairsCounted": counted, "pairsTotal": len(rep["pairs"]),
                    "realRows": len(ctx.real), "syntheticRows": len(ctx.synthetic)},
            details={"shapes": rep["shapes"], "pairs": rep["pairs"]},
            notes=notes,
        )
