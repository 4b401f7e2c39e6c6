"""Membership inference: can an attacker holding the synthetic table tell training rows from unseen rows?

Members are training rows, non-members holdout rows (equal numbers; see
context.EvalContext.privacy). Two attacks, each reported with AUC (± its
Hanley–McNeil standard error), TPR at 1% FPR, and the ε lower bound its
low-FPR operating point implies (roc.empirical_epsilon):

1. Distance to closest record (DCR): score = −(Gower distance to the nearest
   synthetic row). Generators that memorise put members closer.
2. Density ratio, DOMIAS-style (van Breugel et al. 2023): score =
   p_synthetic(x) / p_reference(x), which flags rows where the generator is
   denser than the population, i.e. overfitted. Densities are k-nearest-
   neighbour estimates (Loftsgaarden & Quesenberry 1965) on the Gower
   distance, p(x) ∝ 1/(n·r_k(x)^d); the ratio's ranking only needs
   log r_k,ref(x) − log r_k,syn(x), so neither n nor the dimension d matters.
   Half of the holdout is the reference sample, the other half the
   non-members; as many members are drawn.

Score: per attack scores.membership_score(AUC, ε); the strongest attack (the
lowest score) is the metric's score.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from safesynth.metrics import scores
from safesynth.metrics.base import Group, Metric, MetricResult
from safesynth.metrics.context import EvalContext, PrivacySamples, rng_for
from safesynth.metrics.distance import gower_matrix, kth_smallest
from safesynth.metrics.roc import LOW_FPR, roc_stats

DOMIAS_K = 5
DOMIAS_MIN_HOLDOUT = 20
_TINY = 1e-6


class MembershipInference(Metric):
    name = "membership_inference"
    title = "Membership inference"
    group = Group.PRIVACY
    explanation = ("Two attacks try to tell rows that were used for training from holdout rows using only the "
                   "synthetic table: distance to the closest synthetic record, and a density-ratio attack "
                   "(DOMIAS). AUC 0.5 and TPR ≈ 1% at 1% FPR mean the attacker does no better than chance.")
    advice = ("A low score means some training rows are recognisable. Enable differential privacy "
              "(spec.privacy.enabled), train fewer epochs, keep spec.generation.dropTrainingCopies on, and "
              "look at rare combinations of values (outliers leak first).")

    def compute(self, ctx: EvalContext) -> MetricResult:
        ps = ctx.privacy
        attacks = {}
        dcr = roc_stats(-ps.d_members.min(axis=0), -ps.d_holdout.min(axis=0))
        attacks["dcr"] = dcr
        notes = list(ps.notes)
        n_h = len(ps.holdout)
        if n_h >= DOMIAS_MIN_HOLDOUT:
            attacks["domias"] = self._domias(ctx, ps)
        else:
            notes.append(f"density-ratio attack skipped: it needs at least {DOMIAS_MIN_HOLDOUT} holdout rows")
        per_attack = {}
        for name, st in attacks.items():
            st["score"] = scores.membership_score(st["auc"], st["epsilonLowerBound"])
            per_attack[name] = st
        strongest = min(per_attack, key=lambda a: per_attack[a]["score"])
        if n_h / 2 < 1 / LOW_FPR:
            notes.append(f"with {n_h} non-members, TPR at 1% FPR rests on fewer than one false positive; "
                         "the ε estimate uses an FPR with at least 10 false positives")
        details = [{"attack": a, **{k: v for k, v in st.items() if k != "curve"}} for a, st in per_attack.items()]
        return self.result(
            per_attack[strongest]["score"],
            statistic={"strongestAttack": strongest, "auc": per_attack[strongest]["auc"],
                       "tprAt1PctFpr": per_attack[strongest]["tprAt1PctFpr"],
                       "epsilonLowerBound": per_attack[strongest]["epsilonLowerBound"]},
            params={"members": int(ps.d_members.shape[1]), "nonMembers": n_h,
                    "syntheticRows": int(ps.d_members.shape[0]), "distance": "gower", "domiasK": DOMIAS_K,
                    "seed": ctx.options.seed},
            details=details,
            notes=notes,
            visual={"curves": {a: st["curve"] for a, st in per_attack.items()}},
        )

    @staticmethod
    def _domias(ctx: EvalContext, ps: PrivacySamples) -> dict[str, Any]:
        n_h = len(ps.holdout)
        perm = rng_for(ctx.options.seed, "domias-split").permutation(n_h)
        ref_idx, non_idx = np.sort(perm[: n_h // 2]), np.sort(perm[n_h // 2:])
        mem_idx = np.sort(rng_for(ctx.options.seed, "domias-members").choice(
            ps.d_members.shape[1], min(len(non_idx), ps.d_members.shape[1]), replace=False))
        ref = ps.enc_holdout.take(ref_idx)
        k = min(DOMIAS_K, len(ref_idx), ps.d_members.shape[0])
        r_syn_m = kth_smallest(ps.d_members[:, mem_idx], k, axis=0)
        r_syn_n = kth_smallest(ps.d_holdout[:, non_idx], k, axis=0)
        r_ref_m = kth_smallest(gower_matrix(ps.enc_members.take(mem_idx), ref), k, axis=1)
        r_ref_n = kth_smallest(gower_matrix(ps.enc_holdout.take(non_idx), ref), k, axis=1)
        score_m = np.log(r_ref_m + _TINY) - np.log(r_syn_m + _TINY)
        score_n = np.log(r_ref_n + _TINY) - np.log(r_syn_n + _TINY)
        st = roc_stats(score_m, score_n)
        st["referenceRows"] = len(ref_idx)
        st["k"] = k
        return st
