"""Entity membership inference: can an attacker holding the synthetic table tell training entities from unseen ones?

With grouped records the unit of privacy is the entity, so the attack is made
on entities: members are training entities, non-members holdout entities
(the split takes whole entities). Each entity becomes one feature row
(sequences.entity_features): its row count, the first value of each
entity-level column, first/last/mean of every other number or date (time
order), the most frequent value of every other category. Attack: distance to
the closest synthetic entity (Gower distance over the features, ranges from
the real entities; score = −distance), as in membership.py's DCR attack, with
members sampled to as many as the non-members (both at most
spec.evaluation.maxRows, seeded). Reported: AUC (± Hanley–McNeil s.e.), TPR at
1% FPR and the ε lower bound of its low-FPR point (roc.roc_stats). Score:
scores.membership_score(AUC, ε), the row-level attack's curve.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from safesynth.metrics import scores
from safesynth.metrics.base import Group, Metric, MetricResult, NotApplicable
from safesynth.metrics.columns import Kind, canonical
from safesynth.metrics.context import EvalContext, rng_for
from safesynth.metrics.distance import GowerSpace, gower_matrix
from safesynth.metrics.roc import LOW_FPR, roc_stats
from safesynth.metrics.sequences import (
    Sequences, constant_shares, entity_features, entity_level_columns, grouping, sequences,
)

MIN_ENTITIES = 10  # non-member entities below which the attack's AUC is noise


def _take_entities(seq: Sequences, keep: np.ndarray) -> Sequences:
    """`seq` restricted to the entities in `keep` (sorted codes), renumbered 0..len(keep)−1."""
    mask = np.isin(seq.codes, keep)
    codes = np.searchsorted(keep, seq.codes[mask])
    return Sequences(frame=seq.frame[mask].reset_index(drop=True), codes=codes, pair=codes[1:] == codes[:-1])


class SequenceMembership(Metric):
    name = "sequence_membership"
    title = "Entity membership inference"
    group = Group.SEQUENCES
    explanation = ("Tells training entities from holdout entities by the distance of each entity's summary (row "
                   "count, entity-level values, first/last/mean of numbers, most frequent categories) to the closest "
                   "synthetic entity. AUC 0.5 and TPR ≈ 1% at 1% FPR mean no better than chance.")
    advice = ("A low score means whole training entities are recognisable in the synthetic table. Enable "
              "differential privacy (its unit is the entity with spec.data.groupBy), train fewer epochs, and look "
              "at entities with rare lengths or rare entity-level values.")

    def compute(self, ctx: EvalContext) -> MetricResult:
        g = grouping(ctx)
        if ctx.holdout is None or len(ctx.holdout) == 0:
            raise NotApplicable("no holdout: the attack needs entities the generator never saw")
        level = entity_level_columns(constant_shares(ctx.real, g.group_by, g.numeric + g.categorical)[0])
        seqs = {name: sequences(df, g.group_by, g.order_by)
                for name, df in (("real", ctx.real), ("holdout", ctx.holdout), ("synthetic", ctx.synthetic))}
        n_h_all, n_r_all, n_s_all = seqs["holdout"].entities, seqs["real"].entities, seqs["synthetic"].entities
        if n_h_all < MIN_ENTITIES:
            raise NotApplicable(f"{n_h_all} holdout entities: the attack needs at least {MIN_ENTITIES}")
        mr, seed = ctx.options.max_rows, ctx.options.seed
        n_h = min(n_h_all, mr)
        pick = {"holdout": np.sort(rng_for(seed, "entity-holdout").choice(n_h_all, n_h, replace=False)),
                "real": np.sort(rng_for(seed, "entity-members").choice(n_r_all, min(n_r_all, n_h), replace=False)),
                "synthetic": np.sort(rng_for(seed, "entity-synthetic").choice(n_s_all, min(n_s_all, mr),
                                                                              replace=False))}
        feats: dict[str, pd.DataFrame] = {}
        numeric: dict[str, bool] = {}
        for name, seq in seqs.items():
            feats[name], numeric = entity_features(_take_entities(seq, pick[name]), entity_level=level,
                                                   numeric=g.numeric, categorical=g.categorical)
        kinds = {c: Kind.NUMERIC if is_num else Kind.CATEGORICAL for c, is_num in numeric.items()}
        cols = list(kinds)
        space = GowerSpace(cols, kinds, [feats["real"], feats["holdout"]], [feats["synthetic"]])
        enc_s = space.encode(feats["synthetic"])
        d_m = gower_matrix(enc_s, space.encode(feats["real"])).min(axis=0)
        d_h = gower_matrix(enc_s, space.encode(feats["holdout"])).min(axis=0)
        st = roc_stats(-d_m, -d_h)
        score = scores.membership_score(st["auc"], st["epsilonLowerBound"])
        notes = []
        if n_h_all > n_h or n_r_all > len(pick["real"]) or n_s_all > len(pick["synthetic"]):
            notes.append(f"{len(pick['real'])} of {n_r_all} training entities, {n_h} of {n_h_all} holdout entities and "
                         f"{len(pick['synthetic'])} of {n_s_all} synthetic entities sampled (seeded), members as "
                         "many as non-members")
        if n_h / 2 < 1 / LOW_FPR:
            notes.append(f"with {n_h} non-member entities, TPR at 1% FPR rests on fewer than one false positive; "
                         "the ε estimate uses an FPR with at least 10 false positives")
        shared = _shared_keys(ctx, g.group_by)
        if shared:
            notes.append(f"{shared} holdout entities share a key with a training entity: the split was not made by "
                         "entity, so members and non-members overlap")
        return self.result(
            score,
            statistic={"auc": st["auc"], "aucStdErr": st["aucStdErr"], "tprAt1PctFpr": st["tprAt1PctFpr"],
                       "epsilonLowerBound": st["epsilonLowerBound"], "fprForEpsilon": st["fprForEpsilon"]},
            params={"members": len(pick["real"]), "nonMembers": n_h, "syntheticEntities": len(pick["synthetic"]),
                    "features": len(cols), "entityLevelColumns": level, "distance": "gower",
                    "seed": seed},
            notes=notes,
            visual={"curves": {"entity distance": st["curve"]}},
        )


def _shared_keys(ctx: EvalContext, group_by: tuple[str, ...]) -> int:
    """Holdout entities whose key also names a training entity."""
    assert ctx.holdout is not None

    def keys(df: pd.DataFrame) -> set[tuple[str, ...]]:
        return set(zip(*(canonical(df[c]).tolist() for c in group_by)))

    return len(keys(ctx.holdout) & keys(ctx.real))
