"""Exact and near copies of real rows, and distance to closest record, against the real table alone.

Needs no holdout, so `safesynth evaluate` without `--holdout` still finds a
generator that copies its training rows.

Exact copies, over the full tables (row hashes of the compared columns):
c = share of synthetic rows identical to some real row. With a holdout, some
identity is chance (few columns of few values): with q = share identical to
some holdout row and K = n_real/n_holdout, chance explains about
1 − (1 − q)^K, and the gate reads the excess max(0, c − that) (the same rule
as dcr.py). Without one, the gate reads c itself, and the report says so.

Near copies and DCR (Gower distance, distance.py), on seeded samples: d_s =
each synthetic row's distance to the nearest real row; the real-vs-real
baseline d_r = each holdout row's distance to the nearest real row (without a
holdout: each real row's distance to the nearest *other* real row, leave one
out). Near copy: d_s ≤ t with t the 5th percentile of d_r, so a generator
that draws new rows from the population has about 5% near copies (the share
of d_r ≤ t, reported as the baseline); excess near copies =
max(0, n_s − n_r)/(1 − n_r). Score: 10·(1 − max(excess exact, excess near)).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import pandas as pd

from safesynth.metrics.base import Group, Metric, MetricResult, NotApplicable
from safesynth.metrics.columns import TABULAR, Kind
from safesynth.metrics.context import EvalContext
from safesynth.metrics.distance import GowerSpace, gower_matrix

MAX_ROWS = 2000  # rows per side for the distance matrices (quadratic); exact copies use every row
NEAR_QUANTILE = 0.05


def row_hashes(df: pd.DataFrame) -> np.ndarray:
    hashes: np.ndarray = pd.util.hash_pandas_object(df, index=False).to_numpy()
    return hashes


def copy_shares(real: pd.DataFrame, synthetic: pd.DataFrame,
                holdout: Optional[pd.DataFrame]) -> dict[str, Any]:
    """Exact copies of real rows in `synthetic`, and the share beyond chance when a holdout says what chance is."""
    syn = row_hashes(synthetic)
    in_real = np.isin(syn, row_hashes(real))
    c = float(in_real.mean()) if len(syn) else 0.0
    out: dict[str, Any] = {"exactCopies": int(in_real.sum()), "exactCopyShare": c}
    if holdout is not None and len(holdout):
        q = float(np.isin(syn, row_hashes(holdout)).mean()) if len(syn) else 0.0
        expected = 1.0 - (1.0 - q) ** (len(real) / len(holdout))
        out.update(holdoutMatchShare=q, expectedChanceCopyShare=expected,
                   copyShareBeyondChance=max(0.0, c - expected))
    else:
        out.update(holdoutMatchShare=None, expectedChanceCopyShare=None, copyShareBeyondChance=c)
    return out


class Copies(Metric):
    name = "copies"
    title = "Copies and distance to closest real record"
    group = Group.ALONGSIDE
    explanation = ("Counts synthetic rows that are exact copies of real rows, and rows nearer to a real row than "
                   "95% of unseen real rows are (near copies; about 5% is what new rows from the same population "
                   "get). Needs no holdout.")
    advice = ("Exact or near copies mean the generator memorised rows: keep spec.generation.dropTrainingCopies on, "
              "train fewer epochs, or enable differential privacy.")

    def compute(self, ctx: EvalContext) -> MetricResult:
        cols = [c for c, k in ctx.kinds.items() if k in (*TABULAR, Kind.TEXT)]
        if not cols:
            raise NotApplicable("no columns to compare (only identifiers or empty columns)")
        holdout = ctx.holdout if ctx.holdout is not None and len(ctx.holdout) else None
        exact = copy_shares(ctx.real[cols], ctx.synthetic[cols], holdout[cols] if holdout is not None else None)
        reference = ctx.sample(ctx.real, "copies-real", MAX_ROWS)
        syn = ctx.sample(ctx.synthetic, "copies-synthetic", MAX_ROWS)
        space = GowerSpace(cols, ctx.kinds, [ctx.real] + ([holdout] if holdout is not None else []), [ctx.synthetic])
        enc_ref = space.encode(reference)
        d_syn = gower_matrix(space.encode(syn), enc_ref).min(axis=1)
        if holdout is not None:
            d_real = gower_matrix(space.encode(ctx.sample(holdout, "copies-holdout", MAX_ROWS)), enc_ref).min(axis=1)
            baseline = "holdout rows to their nearest real row"
        else:
            if len(reference) < 2:
                raise NotApplicable("fewer than 2 real rows: no real-vs-real distance to compare with")
            m = gower_matrix(enc_ref, enc_ref)
            np.fill_diagonal(m, np.inf)
            d_real = m.min(axis=1)
            baseline = "real rows to their nearest other real row (no holdout)"
        t = float(np.quantile(d_real, NEAR_QUANTILE))
        near_s, near_r = float(np.mean(d_syn <= t)), float(np.mean(d_real <= t))
        excess_near = max(0.0, near_s - near_r) / max(1.0 - near_r, 1e-9)
        score = 10.0 * (1.0 - min(1.0, max(exact["copyShareBeyondChance"], excess_near)))
        notes = []
        if holdout is None:
            notes.append("no holdout: every exact copy counts (chance matches of common rows cannot be told apart)")
        if len(ctx.synthetic) > len(syn) or len(ctx.real) > len(reference):
            notes.append(f"distances use {len(syn)} synthetic and {len(reference)} real rows (seeded samples); "
                         "exact copies use every row")
        return self.result(
            score,
            statistic={**exact, "nearCopyShare": near_s, "nearCopyShareRealBaseline": near_r,
                       "excessNearCopyShare": excess_near, "nearCopyThreshold": t,
                       "medianDcrSynthetic": float(np.median(d_syn)), "medianDcrRealBaseline": float(np.median(d_real)),
                       "p05DcrSynthetic": float(np.quantile(d_syn, 0.05))},
            params={"distance": "gower", "columns": len(cols), "syntheticRows": len(syn), "realRows": len(reference),
                    "baseline": baseline, "nearQuantile": NEAR_QUANTILE},
            notes=notes,
        )
