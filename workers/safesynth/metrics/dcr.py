"""Distance to closest record: are synthetic rows nearer to training rows than to unseen rows?

For each synthetic row, the Gower distance to the nearest training row and to
the nearest holdout row, with equally many training and holdout rows (see
context.EvalContext.privacy). If the generator learned the population rather
than its sample, a synthetic row is as likely to be nearer to either: the
share p closer to training is 0.5 (ties count half). SDMetrics'
DCROverfittingProtection = min(2(1 − p), 1).

Exact copies, over the full tables (row hashes): c = share of synthetic rows
identical to some training row. Some identity happens by chance (few columns
of few values): with q = share identical to some holdout row, a generator that
samples the population would match one of K = n_train/n_holdout times as many
rows with probability about 1 − (1 − q)^K, so excess copies =
max(0, c − (1 − (1 − q)^K)). Score: scores.dcr_score(p, excess copies).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from safesynth.metrics import scores
from safesynth.metrics.base import Group, Metric, MetricResult
from safesynth.metrics.context import EvalContext


def row_hashes(df: pd.DataFrame) -> np.ndarray:
    hashes: np.ndarray = pd.util.hash_pandas_object(df, index=False).to_numpy()
    return hashes


class DistanceToClosestRecord(Metric):
    name = "dcr"
    title = "Distance to closest record (DCR)"
    group = Group.PRIVACY
    explanation = ("Checks whether synthetic rows sit closer to the training rows than to holdout rows the "
                   "generator never saw (50% closer to training is ideal), and counts exact copies of "
                   "training rows.")
    advice = ("Many synthetic rows nearer to training than to holdout rows, or exact copies, mean the generator "
              "memorised rows: keep spec.generation.dropTrainingCopies on, train fewer epochs, or enable DP.")

    def compute(self, ctx: EvalContext) -> MetricResult:
        ps = ctx.privacy
        d_train = ps.d_members.min(axis=1)
        d_hold = ps.d_holdout.min(axis=1)
        closer = float(np.mean(np.where(d_train < d_hold, 1.0, np.where(d_train == d_hold, 0.5, 0.0))))
        cols = ps.columns
        holdout = ctx.holdout if ctx.holdout is not None else ps.holdout
        full_train = set(row_hashes(ctx.real[cols]).tolist())
        full_hold = set(row_hashes(holdout[cols]).tolist())
        syn_hash = row_hashes(ctx.synthetic[cols]).tolist()
        n_copies_full = int(sum(h in full_train for h in syn_hash))
        n_hold_full = int(sum(h in full_hold for h in syn_hash))
        c = n_copies_full / max(len(syn_hash), 1)
        q = n_hold_full / max(len(syn_hash), 1)
        ratio = len(ctx.real) / max(len(holdout), 1)
        expected = 1.0 - (1.0 - q) ** ratio
        excess = max(0.0, c - expected)
        hist_edges = np.linspace(0, max(float(np.quantile(np.concatenate([d_train, d_hold]), 0.99)), 1e-3), 21)
        return self.result(
            scores.dcr_score(closer, excess),
            statistic={"shareCloserToTrain": closer,
                       "dcrOverfittingProtection": min(2.0 * (1.0 - closer), 1.0),
                       "exactCopiesOfTrainingRows": n_copies_full, "exactCopyShare": c,
                       "exactMatchesOfHoldoutRows": n_hold_full, "holdoutMatchShare": q,
                       "expectedChanceCopyShare": expected, "excessCopyShare": excess,
                       "medianDcrTrain": float(np.median(d_train)), "medianDcrHoldout": float(np.median(d_hold)),
                       "p05DcrTrain": float(np.quantile(d_train, 0.05)),
                       "p05DcrHoldout": float(np.quantile(d_hold, 0.05))},
            params={"syntheticRows": len(ps.synthetic), "trainRows": len(ps.members),
                    "holdoutRows": len(ps.holdout), "distance": "gower", "columns": len(cols),
                    "fullTableRows": {"synthetic": len(ctx.synthetic), "train": len(ctx.real),
                                      "holdout": 0 if ctx.holdout is None else len(ctx.holdout)}},
            notes=list(ps.notes),
            visual={"edges": hist_edges.tolist(),
                    "train": np.histogram(np.clip(d_train, 0, hist_edges[-1]), hist_edges)[0].tolist(),
                    "holdout": np.histogram(np.clip(d_hold, 0, hist_edges[-1]), hist_edges)[0].tolist()},
        )
