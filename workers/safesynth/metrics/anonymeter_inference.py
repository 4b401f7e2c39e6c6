"""Inference (Anonymeter): does the synthetic table let an attacker learn a secret column?

Anonymeter's InferenceEvaluator: the attacker knows a target's other columns
(the quasi-identifiers, or every other tabular column), finds the nearest
synthetic row (Gower distance, Anonymeter's numba k-NN) and guesses its
secret; right when equal (categories) or within 5% (numbers, dates).
Training targets (main), holdout targets (control), random guesses
(baseline); risk = (r_main − r_control)/(1 − r_control) with its 95% interval
(see anonymeter_inputs). Secrets are chosen as attribute_inference chooses
them (spec.evaluation.sensitiveColumns, else up to 3 automatically).

Our own attribute_inference runs the same attack in our Gower space and adds
what Anonymeter's does not report: a conservative interval built from the
two rates' Wilson intervals and whether the attack beats its baseline by
more than noise. This module is the reference implementation's number, so a
reader can compare with published Anonymeter results.

Score: scores.attribute_score(highest risk over secrets).
"""

from __future__ import annotations

from typing import Any

from safesynth.metrics import scores
from safesynth.metrics.anonymeter_inputs import attack_tables, enable_kernel_cache, pinned_global_rng, risk_json
from safesynth.metrics.attribute_inference import choose_secrets
from safesynth.metrics.base import Group, Metric, MetricResult, NotApplicable
from safesynth.metrics.context import EvalContext


class AnonymeterInference(Metric):
    name = "anonymeter_inference"
    title = "Inference (Anonymeter)"
    group = Group.PRIVACY
    explanation = ("Anonymeter's inference attack: knowing a person's other columns, guess a sensitive column "
                   "from the nearest synthetic row. The risk is how much better this works for training people "
                   "than for holdout people.")
    advice = ("A high risk for a column means individual combinations were reproduced: enable DP, train fewer "
              "epochs, generalise the quasi-identifiers.")

    def compute(self, ctx: EvalContext) -> MetricResult:
        from anonymeter.evaluators import InferenceEvaluator

        enable_kernel_cache()
        t = attack_tables(ctx)
        secrets = [s for s in choose_secrets(ctx) if s in t.columns]
        if not secrets:
            raise NotApplicable("no column to treat as secret (set spec.evaluation.sensitiveColumns)")
        rows: list[dict[str, Any]] = []
        for secret in secrets:
            aux = [c for c in (ctx.options.quasi_identifiers or t.columns) if c != secret and c in t.columns]
            if not aux:
                continue
            ev = InferenceEvaluator(ori=t.main, syn=t.synthetic, control=t.control, aux_cols=aux, secret=secret,
                                    regression=secret in t.continuous, n_attacks=t.n_targets)
            with pinned_global_rng(ctx.options.seed, f"anonymeter-inference-{secret}"):
                ev.evaluate(n_jobs=1)
            rows.append({"secret": secret, "auxColumns": len(aux), **risk_json(ev)})
        if not rows:
            raise NotApplicable("no secret column had other columns to attack with")
        worst = max(rows, key=lambda r: r["risk"])
        return self.result(
            scores.attribute_score(max(0.0, worst["risk"])),
            statistic={"maxRisk": worst["risk"], "worstSecret": worst["secret"], "riskInterval": worst["riskInterval"]},
            params={**t.params, "targets": t.n_targets, "tolerance": 0.05, "seed": ctx.options.seed,
                    "secretsChosen": "spec" if ctx.options.sensitive_columns else "automatic"},
            details=rows,
            notes=list(t.notes),
            visual={"risks": [{"label": f"inference ({r['secret']})", "risk": r["risk"],
                               "interval": r["riskInterval"]} for r in rows]},
        )
