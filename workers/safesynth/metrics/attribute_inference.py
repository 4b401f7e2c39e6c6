"""Attribute inference, Anonymeter-style: does the synthetic table let an attacker learn a secret column?

Setting (Giomi et al. 2023, "A unified framework for quantifying privacy risk
in synthetic data", the Anonymeter inference attack): the attacker knows a
target's quasi-identifiers, finds the nearest synthetic row on them (Gower
distance) and guesses the secret as that row's value. A guess is right when it
equals the secret (categories; null equals null) or lies within 5% of it
(numbers, dates). The attack is run on

  - training rows (main): r_main, what the synthetic table reveals about people in the training data,
  - holdout rows (control): r_control, what it reveals about anyone, from population patterns alone,
  - a random baseline (guess a random synthetic row's value): r_base, the attack is meaningful only above it,

and the privacy risk is what training membership adds:
  risk = (r_main − r_control) / (1 − r_control),
the share of the guesses that fail for outsiders which succeed for training people,
with a conservative 95% interval from the rates' Wilson intervals
([lo_main − hi_control]/[1 − hi_control], [hi_main − lo_control]/[1 − lo_control]).
Risk and interval are bounded to [0, 1] as Anonymeter's PrivacyRisk is: below 0
the normalisation has no meaning (it reaches −1 when training trails control by as
many targets as control misses, e.g. 198 vs 199 of 200, and −∞ as r_control → 1),
so the signed difference r_main − r_control is kept as `excess` instead. With
r_control = 1 nothing is left to measure (`riskMeasurable` false, risk 0).
Without the control, population-level inference (men are taller) would count
as a leak: the reference product's attack has that flaw.

Secrets: `evaluation.sensitiveColumns`, else up to 3 chosen automatically (the
ML-utility target first, then categorical and numeric columns in table order).
Quasi-identifiers: `evaluation.quasiIdentifiers`, else every other tabular
column (the strongest attacker). At most 1,000 targets per set (seeded).
Score: scores.attribute_score(highest risk over secrets).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from safesynth.errors import BadInputError
from safesynth.metrics import scores
from safesynth.metrics.base import Group, Metric, MetricResult, NotApplicable
from safesynth.metrics.columns import CONTINUOUS, DISCRETE, TABULAR, canonical, to_float
from safesynth.metrics.context import EvalContext, rng_for
from safesynth.metrics.distance import GowerSpace, gower_matrix
from safesynth.metrics.intervals import wilson

MAX_TARGETS = 1000
TOLERANCE = 0.05  # relative tolerance for numeric guesses, Anonymeter's default
AUTO_SECRETS = 3


def choose_secrets(ctx: EvalContext) -> list[str]:
    requested = list(ctx.options.sensitive_columns)
    for c in requested:
        if c not in ctx.kinds or ctx.kinds[c] not in TABULAR:
            raise BadInputError(f"spec.evaluation.sensitiveColumns: {c!r} is not a numeric, date, categorical or "
                                "boolean column of the table")
    if requested:
        return requested
    qis = set(ctx.options.quasi_identifiers)
    pool = [c for c in ctx.tabular if c not in qis and ctx.real[c].nunique(dropna=True) > 1]
    chosen: list[str] = []
    try:
        from safesynth.metrics.ml_utility import choose_target

        target, _ = choose_target(ctx.real, dict(ctx.kinds), ctx.options.target)
        if target in pool:
            chosen.append(target)
    except (NotApplicable, BadInputError):
        pass
    cats = [c for c in pool if ctx.kinds[c] in DISCRETE and c not in chosen]
    nums = [c for c in pool if ctx.kinds[c] in CONTINUOUS and c not in chosen]
    while len(chosen) < AUTO_SECRETS and (cats or nums):
        for bucket in (cats, nums):
            if bucket and len(chosen) < AUTO_SECRETS:
                chosen.append(bucket.pop(0))
    return chosen


def guesses_correct(guess: pd.Series, truth: pd.Series, continuous: bool) -> np.ndarray:
    if continuous:
        g, t = to_float(guess), to_float(truth)
        both_null = np.isnan(g) & np.isnan(t)
        close = np.abs(g - t) <= TOLERANCE * np.abs(t)
        near: np.ndarray = both_null | np.nan_to_num(close, nan=0).astype(bool)
        return near
    same: np.ndarray = (canonical(guess.reset_index(drop=True)).to_numpy()
                        == canonical(truth.reset_index(drop=True)).to_numpy())
    return same


def risk_with_interval(main: tuple[int, int], control: tuple[int, int]) -> dict[str, Any]:
    """Residual risk in [0, 1] with its interval, and the signed rate difference (see the module docstring).

    Bounded, not clipped at −1 as before: a report showing "−1.000 [−1.000, 0.23]" read as a
    precise negative risk when it only meant "control did as well or better".
    """
    (sm, nm), (sc, nc) = main, control
    r_main, r_ctrl = sm / nm, sc / nc
    lo_m, hi_m = wilson(sm, nm)
    lo_c, hi_c = wilson(sc, nc)

    def risk(a: float, c: float) -> float:
        return min(1.0, max(0.0, (a - c) / (1 - c))) if c < 1 else 0.0

    return {"risk": risk(r_main, r_ctrl), "riskLow": risk(lo_m, hi_c), "riskHigh": risk(hi_m, lo_c),
            "riskMeasurable": r_ctrl < 1, "excess": r_main - r_ctrl,
            "mainRate": r_main, "mainInterval": [lo_m, hi_m], "controlRate": r_ctrl, "controlInterval": [lo_c, hi_c]}


class AttributeInference(Metric):
    name = "attribute_inference"
    title = "Attribute inference"
    group = Group.PRIVACY
    explanation = ("An attacker who knows some columns of a person looks up the nearest synthetic row and "
                   "guesses a sensitive column. The risk is how much better this works for people in the "
                   "training data than for holdout people (the control): 0 means the synthetic table reveals "
                   "only population-level patterns.")
    advice = ("A high risk for a column means the generator reproduces individual combinations: enable DP, "
              "train fewer epochs, generalise the quasi-identifiers (e.g. zip → 3 digits, age → bands) in the "
              "PII settings, or drop very rare combinations.")

    def compute(self, ctx: EvalContext) -> MetricResult:
        if ctx.holdout is None or len(ctx.holdout) == 0:
            raise NotApplicable("no holdout: the attack needs control targets the generator never saw")
        secrets = choose_secrets(ctx)
        if not secrets:
            raise NotApplicable("no column to treat as secret (set spec.evaluation.sensitiveColumns)")
        for c in ctx.options.quasi_identifiers:
            if c not in ctx.kinds:
                raise BadInputError(f"spec.evaluation.quasiIdentifiers: {c!r} is not a column of the table")
        n = min(len(ctx.holdout), len(ctx.real), MAX_TARGETS)
        main = ctx.sample(ctx.real, "aia-main", n)
        control = ctx.sample(ctx.holdout, "aia-control", n)
        syn = ctx.sample(ctx.synthetic, "aia-synthetic")
        if len(syn) == 0:
            raise NotApplicable("the synthetic table is empty")
        rows: list[dict[str, Any]] = []
        for secret in secrets:
            qis = [c for c in (ctx.options.quasi_identifiers or ctx.tabular) if c != secret and ctx.kinds[c] in TABULAR]
            if not qis:
                rows.append({"secret": secret, "note": "no quasi-identifier besides the secret"})
                continue
            space = GowerSpace(qis, ctx.kinds, [ctx.real, ctx.holdout], [ctx.synthetic])
            enc_syn = space.encode(syn)
            cont = ctx.kinds[secret] in CONTINUOUS
            success = {}
            for label, targets in (("main", main), ("control", control)):
                nearest = gower_matrix(space.encode(targets), enc_syn).argmin(axis=1)
                guess = syn[secret].iloc[nearest]
                success[label] = (int(guesses_correct(guess, targets[secret], cont).sum()), len(targets))
            rand = rng_for(ctx.options.seed, f"aia-baseline-{secret}").integers(0, len(syn), len(main))
            base_ok = int(guesses_correct(syn[secret].iloc[rand], main[secret], cont).sum())
            res = risk_with_interval(success["main"], success["control"])
            rows.append({"secret": secret, "quasiIdentifiers": len(qis), "quasiIdentifierColumns": qis, **res,
                         "baselineRate": base_ok / len(main), "targets": len(main),
                         "attackBeatsBaseline": res["mainRate"] > wilson(base_ok, len(main))[1]})
        scored = [r for r in rows if "risk" in r]
        if not scored:
            raise NotApplicable("no secret column had quasi-identifiers to attack with")
        worst = max(scored, key=lambda r: (r["risk"], r["excess"]))  # ties at risk 0: the largest excess
        notes = []
        if len(ctx.synthetic) > len(syn):
            notes.append(f"the attacker searches a seeded sample of {len(syn)} of {len(ctx.synthetic)} synthetic rows")
        notes.append(f"{n} training and {n} holdout targets per secret column")
        return self.result(
            scores.attribute_score(max(0.0, worst["risk"])),
            statistic={"maxRisk": worst["risk"], "worstSecret": worst["secret"],
                       "riskInterval": [worst["riskLow"], worst["riskHigh"]]},
            params={"targets": n, "syntheticRows": len(syn), "tolerance": TOLERANCE, "neighbours": 1,
                    "distance": "gower", "secretsChosen": "spec" if ctx.options.sensitive_columns else "automatic",
                    "quasiIdentifiersChosen": "spec" if ctx.options.quasi_identifiers else "all other columns",
                    "seed": ctx.options.seed},
            details=rows,
            notes=notes,
        )
