"""ML utility: a model trained on synthetic rows, tested on the holdout, against one trained on real rows.

Train-synthetic-test-real (TSTR, Esteban et al. 2017): both models are
scikit-learn HistGradientBoosting (fast, handles nulls and categories
natively), same settings, same number of training rows (the smaller of the
two tables, at most `max_rows`, seeded sample), scored on the same holdout
rows the generator never saw. Classification: macro F1 (accuracy alongside);
regression: R². Score: 10 × synthetic/real, clipped to [0, 10]. Shown next to
SQS, not folded into it, so SQS stays comparable with the reference product.

The target is `evaluation.target`, else chosen automatically: the last
categorical or boolean column with 2–20 classes (tables tend to end with
their label), else the last numeric column.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd

from safesynth.errors import BadInputError
from safesynth.metrics import scores
from safesynth.metrics.base import Group, Metric, MetricResult, NotApplicable
from safesynth.metrics.columns import CONTINUOUS, DISCRETE, Kind, canonical, to_float
from safesynth.metrics.context import EvalContext
from safesynth.metrics.encoding import CodedFeatures

MAX_CLASSES = 20


def choose_target(real: pd.DataFrame, kinds: dict[str, Kind], requested: Optional[str]) -> tuple[str, str]:
    """(column, task) with task "classification" or "regression"."""
    if requested is not None:
        if requested not in kinds:
            raise BadInputError(f"spec.evaluation.target: column {requested!r} is not in the table")
        kind = kinds[requested]
        if kind in DISCRETE:
            return requested, "classification"
        if kind in CONTINUOUS:
            return requested, "regression"
        raise BadInputError(f"spec.evaluation.target: column {requested!r} is {kind.value}; choose a numeric, "
                            "date, categorical or boolean column")
    discrete = [c for c, k in kinds.items() if k in DISCRETE and 2 <= real[c].nunique(dropna=True) <= MAX_CLASSES]
    if discrete:
        return discrete[-1], "classification"
    numeric = [c for c, k in kinds.items() if k is Kind.NUMERIC and real[c].nunique(dropna=True) > 1]
    if numeric:
        return numeric[-1], "regression"
    raise NotApplicable("no column suits as a prediction target (no 2–20-class or numeric column)")


def _fit_score(task: str, xtr: np.ndarray, ytr: np.ndarray, xte: np.ndarray, yte: np.ndarray,
               mask: list[bool], seed: int) -> dict[str, float]:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="openmp"):  # OpenMP threads fight on a busy 2-core box
        return _fit_score_1(task, xtr, ytr, xte, yte, mask, seed)


def _fit_score_1(task: str, xtr: np.ndarray, ytr: np.ndarray, xte: np.ndarray, yte: np.ndarray,
                 mask: list[bool], seed: int) -> dict[str, float]:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.metrics import accuracy_score, f1_score, r2_score

    if task == "classification":
        classes = np.unique(ytr)
        if len(classes) < 2:  # a generator that emits one class: the model can only predict it
            pred = np.full(len(yte), classes[0] if len(classes) else "", dtype=object)
        else:
            model = HistGradientBoostingClassifier(max_iter=100, categorical_features=mask or None,
                                                   early_stopping=False, random_state=seed)
            pred = model.fit(xtr, ytr).predict(xte)
        return {"macroF1": float(f1_score(yte, pred, average="macro", zero_division=0)),
                "accuracy": float(accuracy_score(yte, pred))}
    model = HistGradientBoostingRegressor(max_iter=100, categorical_features=mask or None,
                                          early_stopping=False, random_state=seed)
    return {"r2": float(r2_score(yte, model.fit(xtr, ytr).predict(xte)))}


class MLUtility(Metric):
    name = "ml_utility"
    title = "ML utility (train on synthetic, test on holdout)"
    group = Group.ALONGSIDE
    explanation = ("Trains the same model on synthetic rows and on real rows, tests both on holdout rows the "
                   "generator never saw, and reports the synthetic model's score as a share of the real one's.")
    advice = ("If the synthetic-trained model is much worse, relations between the target and the other "
              "columns were not learned: check the correlation heatmap for the target's row, train longer or "
              "with more data; name the target in spec.evaluation.target if the automatic choice is wrong.")

    def compute(self, ctx: EvalContext) -> MetricResult:
        if ctx.holdout is None or len(ctx.holdout) < 10:
            raise NotApplicable("no holdout (at least 10 rows) to test the models on")
        target, task = choose_target(ctx.real, dict(ctx.kinds), ctx.options.target)
        features = [c for c in ctx.tabular if c != target]
        if not features:
            raise NotApplicable("no feature columns besides the target")
        n_train = min(len(ctx.real), len(ctx.synthetic), ctx.options.max_rows)
        real = ctx.sample(ctx.real, "utility-real", n_train)
        syn = ctx.sample(ctx.synthetic, "utility-synthetic", n_train)
        test = ctx.sample(ctx.holdout, "utility-test")
        enc = CodedFeatures(real, features, dict(ctx.kinds))
        ys = [self._target(df[target], task) for df in (real, syn, test)]
        keep = [~pd.isna(y) for y in ys]
        if keep[2].sum() < 10 or keep[0].sum() < 10:
            raise NotApplicable("fewer than 10 real or holdout rows with a target value")
        if keep[1].sum() == 0:
            raise NotApplicable("no synthetic row has a target value")
        xs = [enc.matrix(df)[k] for df, k in zip((real, syn, test), keep)]
        ys = [y[k] for y, k in zip(ys, keep)]
        seed = ctx.options.seed
        on_real = _fit_score(task, xs[0], ys[0], xs[2], ys[2], enc.categorical_mask, seed)
        on_syn = _fit_score(task, xs[1], ys[1], xs[2], ys[2], enc.categorical_mask, seed)
        key = "macroF1" if task == "classification" else "r2"
        if on_real[key] <= 0:
            raise NotApplicable(f"the model trained on real rows has no skill ({key} ≤ 0), so no ratio")
        ratio = on_syn[key] / on_real[key]
        notes = []
        if len(ctx.real) > n_train or len(ctx.synthetic) > n_train:
            notes.append(f"both models trained on {n_train} rows (seeded samples of equal size)")
        return self.result(
            scores.utility_score(ratio),
            statistic={"ratio": ratio, "metric": key, "trainedOnReal": on_real, "trainedOnSynthetic": on_syn},
            params={"target": target, "task": task, "model": "HistGradientBoosting(max_iter=100)",
                    "trainRows": n_train, "testRows": len(ys[2]), "features": len(features),
                    "targetChosen": "spec" if ctx.options.target else "automatic"},
            notes=notes,
        )

    @staticmethod
    def _target(values: pd.Series, task: str) -> np.ndarray:
        if task == "classification":
            labels: np.ndarray = canonical(values).where(values.notna(), None).to_numpy(dtype=object)
            return labels
        y = to_float(values)
        finite: np.ndarray = np.where(np.isfinite(y), y, np.nan)
        return finite
