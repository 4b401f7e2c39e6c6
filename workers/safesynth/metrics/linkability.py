"""Linkability (Anonymeter): can the synthetic table join two halves of a person's record?

The attacker holds two datasets about the same people, each with part of the
columns (here: the quasi-identifiers, or all tabular columns, split
alternately in table order). For each target it finds the nearest synthetic
row (Gower distance) from each half; the attack wins when both halves point
at the same synthetic row (Anonymeter's LinkabilityEvaluator, `N_NEIGHBORS`
= 1, the strictest link). Run on training targets (main) and holdout targets
(control); risk = (r_main − r_control)/(1 − r_control) with its 95% interval
(see anonymeter_inputs). Anonymeter's random baseline draws from an unseeded
generator, so it is not reported: the control is the reference that counts.

Score: scores.attribute_score(risk).
"""

from __future__ import annotations

from safesynth.metrics import scores
from safesynth.metrics.anonymeter_inputs import attack_tables, enable_kernel_cache, pinned_global_rng, risk_json
from safesynth.metrics.base import Group, Metric, MetricResult, NotApplicable
from safesynth.metrics.context import EvalContext

N_NEIGHBORS = 1


def split_columns(columns: list[str]) -> tuple[list[str], list[str]]:
    """Alternate columns between the two auxiliary datasets, so each half gets early and late columns."""
    return columns[0::2], columns[1::2]


class Linkability(Metric):
    name = "linkability"
    title = "Linkability (Anonymeter)"
    group = Group.PRIVACY
    explanation = ("An attacker with two datasets about the same people (different columns) uses the synthetic "
                   "table to join them: the risk is how much more often the two halves of a training person "
                   "lead to the same synthetic row than those of a holdout person.")
    advice = ("A high risk means synthetic rows are near-copies of individual training rows: enable DP, train "
              "fewer epochs, keep spec.generation.dropTrainingCopies on, generalise quasi-identifiers.")

    def compute(self, ctx: EvalContext) -> MetricResult:
        from anonymeter.evaluators import LinkabilityEvaluator

        enable_kernel_cache()
        t = attack_tables(ctx)
        qis = [c for c in ctx.options.quasi_identifiers if c in t.columns] or t.columns
        if len(qis) < 2:
            raise NotApplicable("linkability needs at least two columns to split between two datasets")
        aux = split_columns(qis)
        ev = LinkabilityEvaluator(ori=t.main, syn=t.synthetic, control=t.control, aux_cols=aux,
                                  n_attacks=t.n_targets, n_neighbors=N_NEIGHBORS)
        with pinned_global_rng(ctx.options.seed, "linkability"):
            ev.evaluate(n_jobs=1)
        res = risk_json(ev, baseline=False)
        return self.result(
            scores.attribute_score(max(0.0, res["risk"])),
            statistic={"risk": res["risk"], "riskInterval": res["riskInterval"], "mainRate": res["mainRate"],
                       "controlRate": res["controlRate"]},
            params={**t.params, "targets": t.n_targets, "neighbours": N_NEIGHBORS, "auxColumns": [len(aux[0]), len(aux[1])],
                    "columnsChosen": "spec.evaluation.quasiIdentifiers" if ctx.options.quasi_identifiers
                    else "all tabular columns", "seed": ctx.options.seed},
            details=[{"attack": "linkability", **res}],
            notes=list(t.notes),
            visual={"risks": [{"label": "linkability", "risk": res["risk"], "interval": res["riskInterval"]}]},
        )
