"""Singling out (Anonymeter): can the synthetic table be used to pick out one real person?

The attacker writes predicates from the synthetic table ("age = 97",
"zip = 10001 and ct_value ≤ 12.5") and wins when a predicate matches exactly
one record of the targets (Anonymeter's SinglingOutEvaluator, after Cohen &
Nissim 2020's "predicate singling out"). Two query generators:

  - univariate: one column, built from values rare or extreme in the synthetic table;
  - multivariate: `N_COLS` columns taken from one synthetic record.

Each runs on training targets (main) and on as many holdout targets
(control); risk = (r_main − r_control)/(1 − r_control) with its 95% interval
(see anonymeter_inputs: main and control are the same size, so Anonymeter's
size correction, which does not work in 1.1.0, is never needed). A generator that memorises rare values singles out
training people far more often than holdout people; population-level
uniqueness (one 97-year-old in any sample) cancels out through the control.

Score: scores.attribute_score(the higher of the two risks). Sampled: see
anonymeter_inputs (`N_ATTACKS` queries per mode; generation capped at
`MAX_ATTEMPTS` tries so a table with few unique combinations cannot stall).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from safesynth.metrics import scores
from safesynth.metrics.anonymeter_inputs import attack_tables, pinned_global_rng, risk_json
from safesynth.metrics.base import Group, Metric, MetricResult
from safesynth.metrics.context import EvalContext, rng_for

N_ATTACKS = 500  # queries per mode (Anonymeter's default)
N_COLS = 3  # columns per multivariate query (Anonymeter's default)
MAX_ATTEMPTS = 20_000  # query-generation tries per mode
MODES = ("univariate", "multivariate")


def _evaluator(ori: Any, syn: Any, control: Any, n_cols: int, seed: int) -> Any:
    """Anonymeter's SinglingOutEvaluator with a fixed order where its polars calls have none.

    Its univariate queries come from `group_by(col)` and its baseline from
    `unique()`, both in hash order that changes from run to run, so a seeded
    evaluator still gave different risks. This subclass builds the same
    queries (one null, min, max, values unique in the synthetic table) in
    table order and draws the baseline from values in first-seen order, then
    evaluates exactly as Anonymeter does (pinned to anonymeter 1.1.0, whose
    private helpers it calls).
    """
    import polars as pl
    from anonymeter.evaluators import SinglingOutEvaluator
    from anonymeter.evaluators import singling_out_evaluator as so

    def univariate(df: pl.DataFrame, n_queries: int, rng: np.random.Generator) -> list[pl.Expr]:
        queries: list[pl.Expr] = []
        for col in df.columns:
            if df[col].null_count() == 1:
                queries.append(pl.col(col).is_null())
            if df.schema[col].is_numeric() and df[col].drop_nulls().len() > 0:
                queries.extend([pl.col(col) <= df[col].min(), pl.col(col) >= df[col].max()])
            counts = df.group_by(col, maintain_order=True).len()
            queries.extend(pl.col(col) == v for v in counts.filter(pl.col("len") == 1)[col].to_list())
        rng.shuffle(queries)  # a list of expressions shuffles fine (Anonymeter does this)
        unique = so.UniqueSinglingOutQueries(max_size=n_queries)
        unique.check_and_extend(queries, df)
        kept: list[pl.Expr] = unique.queries
        return kept

    def random_queries(df: pl.DataFrame, n_queries: int, n_cols: int, rng: np.random.Generator) -> list[pl.Expr]:
        values = {c: df[c].unique(maintain_order=True).to_list() for c in df.columns}
        types = {c: so._convert_polars_dtype(df[c].dtype) for c in df.columns}
        return [so._random_query(unique_values=values, column_types=types, rng=rng,
                                 cols=rng.choice(df.columns, size=n_cols, replace=False).tolist())
                for _ in range(n_queries)]

    class Seeded(SinglingOutEvaluator):  # type: ignore[misc]
        def evaluate(self, mode: str = "multivariate") -> Any:
            if mode == "univariate":
                queries = univariate(self._syn, self._n_attacks, self._rng)
            else:
                queries = so._generate_singling_out_queries(
                    df=self._syn, n_attacks=self._n_attacks, n_cols=self._n_cols, mode=mode,
                    max_attempts=self._max_attempts, rng=self._rng)
            self._queries = so._evaluate_queries_and_return_successful(df=self._ori, queries=queries)
            self._n_success = len(self._queries)
            baseline = random_queries(self._syn, self._n_attacks, self._n_cols, self._rng)
            self._baseline_queries = so._evaluate_queries_and_return_successful(df=self._ori, queries=baseline)
            self._n_baseline = len(self._baseline_queries)
            # main and control have the same size (anonymeter_inputs): no size correction
            self._n_control = len(so._evaluate_queries_and_return_successful(df=self._control, queries=queries))
            self._evaluated = True
            return self

    return Seeded(ori=ori, syn=syn, control=control, n_attacks=N_ATTACKS, n_cols=n_cols,
                  max_attempts=MAX_ATTEMPTS, seed=seed)


class SinglingOut(Metric):
    name = "singling_out"
    title = "Singling out (Anonymeter)"
    group = Group.PRIVACY
    explanation = ("Predicates written from the synthetic table (a rare value, or a combination of three) are "
                   "checked against training and holdout people: the risk is how much more often they pick out "
                   "exactly one training person than one holdout person. 0 means no better than for people "
                   "who were never in the data.")
    advice = ("A high risk means rare values or combinations were memorised: enable DP, train fewer epochs per "
              "row (smaller token budget), generalise rare categories and exact outlier values in the PII "
              "settings, or add rows.")

    def compute(self, ctx: EvalContext) -> MetricResult:
        t = attack_tables(ctx)
        rows: list[dict[str, Any]] = []
        for mode in MODES:
            seed = int(rng_for(ctx.options.seed, f"singling-out-{mode}").integers(0, 2**31 - 1))
            n_cols = 1 if mode == "univariate" else min(N_COLS, len(t.columns))
            ev = _evaluator(t.main, t.synthetic, t.control, n_cols, seed)
            with pinned_global_rng(ctx.options.seed, f"singling-out-{mode}"):
                ev.evaluate(mode=mode)
            rows.append({"mode": mode, "columnsPerQuery": n_cols, **risk_json(ev)})
        worst = max(rows, key=lambda r: r["risk"])
        by_mode = {r["mode"]: r for r in rows}
        notes = list(t.notes)
        return self.result(
            scores.attribute_score(max(0.0, worst["risk"])),
            statistic={"maxRisk": worst["risk"], "worstMode": worst["mode"], "riskInterval": worst["riskInterval"],
                       "univariateRisk": by_mode["univariate"]["risk"],
                       "multivariateRisk": by_mode["multivariate"]["risk"]},
            params={**t.params, "attacksPerMode": N_ATTACKS, "maxAttempts": MAX_ATTEMPTS, "seed": ctx.options.seed},
            details=rows,
            notes=notes,
            visual={"risks": [{"label": f"singling out ({r['mode']})", "risk": r["risk"],
                               "interval": r["riskInterval"]} for r in rows]},
        )
