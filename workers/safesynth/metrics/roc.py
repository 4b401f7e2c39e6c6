"""ROC statistics for membership attacks: AUC, TPR at a fixed low FPR, and the ε it implies.

A membership attack gives each candidate row a score (higher = "was in
training"). Members are training rows, non-members holdout rows. AUC averages
over all thresholds; TPR at 1% FPR shows whether *some* records are exposed,
which AUC hides (a 5,000-row leak from a 31k-row table had AUC 0.566 but TPR
0.172 at 1% FPR; Carlini et al. 2022, "Membership inference attacks from
first principles"). Ties are scored as random tie-breaking (linear
interpolation along the ROC segment).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

LOW_FPR = 0.01
MIN_FALSE_POSITIVES = 10  # the ε estimate uses an FPR with at least this many non-members above the threshold


def roc_stats(member_scores: np.ndarray, nonmember_scores: np.ndarray, *, curve_points: int = 101) -> dict[str, Any]:
    """AUC (with its Hanley–McNeil standard error), TPR at 1% FPR, the ε lower bound, and a thinned curve."""
    m = np.asarray(member_scores, dtype=float)
    n = np.asarray(nonmember_scores, dtype=float)
    y = np.concatenate([np.ones(len(m)), np.zeros(len(n))])
    s = np.concatenate([m, n])
    auc = float(roc_auc_score(y, s))
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    fpr_eps = max(LOW_FPR, MIN_FALSE_POSITIVES / max(len(n), 1))
    tpr_low = float(np.interp(LOW_FPR, fpr, tpr))
    tpr_eps = float(np.interp(min(fpr_eps, 1.0), fpr, tpr))
    grid = np.linspace(0, 1, curve_points)
    return {
        "auc": auc,
        "aucStdErr": hanley_mcneil_se(auc, len(m), len(n)),
        "tprAt1PctFpr": tpr_low,
        "fprForEpsilon": fpr_eps,
        "tprAtFprForEpsilon": tpr_eps,
        "epsilonLowerBound": empirical_epsilon(tpr_eps, fpr_eps),
        "members": len(m),
        "nonMembers": len(n),
        "curve": {"fpr": grid.tolist(), "tpr": np.interp(grid, fpr, tpr).tolist()},
    }


def hanley_mcneil_se(auc: float, n_pos: int, n_neg: int) -> float:
    """Standard error of an AUC (Hanley & McNeil 1982), no resampling needed.

    Ours: scikit-learn gives the AUC, but neither it nor scipy has this closed-form standard error.
    """
    if n_pos == 0 or n_neg == 0:
        return math.nan
    q1 = auc / (2 - auc)
    q2 = 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc) + (n_neg - 1) * (q2 - auc * auc)) / (n_pos * n_neg)
    return math.sqrt(max(var, 0.0))


def empirical_epsilon(tpr: float, fpr: float) -> float:
    """ε implied by an attack's operating point: ln(TPR/FPR), floored at 0.

    An (ε, 0)-DP mechanism bounds every test by TPR ≤ e^ε·FPR (Kairouz et al.
    2015; used for DP auditing by Jagielski et al. 2020), so an attack reaching
    TPR at FPR shows at least this much privacy loss for the rows it exposes.
    """
    if fpr <= 0 or tpr <= 0:
        return 0.0
    return max(0.0, math.log(tpr / fpr))
