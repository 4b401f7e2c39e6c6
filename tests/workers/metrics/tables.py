"""Constructed tables for metric tests: a population with known relations, and ways to damage it."""

from __future__ import annotations

import numpy as np
import pandas as pd

WORDS = ("patient", "reports", "mild", "pain", "after", "exercise", "no", "fever", "follow", "up", "in", "two",
         "weeks", "blood", "pressure", "normal", "prescribed", "rest", "and", "fluids")


def population(n: int, seed: int, *, text: bool = False) -> pd.DataFrame:
    """Mixed columns with real associations: income depends on age and group, smoker on group."""
    r = np.random.default_rng(seed)
    age = r.integers(18, 90, n)
    group = r.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    income = 800.0 * age + np.where(group == "a", 15_000, 0) + r.normal(0, 4_000, n)
    smoker = np.where(r.random(n) < np.where(group == "c", 0.7, 0.2), "yes", "no")
    score = np.where(r.random(n) < 0.1, np.nan, r.normal(50, 10, n).round(1))
    df = pd.DataFrame({
        "id": [f"P-{seed}-{i:06d}" for i in range(n)],
        "age": age,
        "income": income.round(2),
        "group": group,
        "smoker": smoker,
        "score": score,
        "visit": pd.Timestamp("2021-01-01") + pd.to_timedelta(r.integers(0, 700, n), unit="D"),
    })
    if text:
        df["notes"] = [" ".join(r.choice(WORDS, r.integers(4, 12))) + "." for _ in range(n)]
    return df


def split(df: pd.DataFrame, n_holdout: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    return df.iloc[n_holdout:].reset_index(drop=True), df.iloc[:n_holdout].reset_index(drop=True)


def shuffle_columns(df: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Every column permuted independently: same marginals, no relations."""
    r = np.random.default_rng(seed)
    return pd.DataFrame({c: df[c].to_numpy()[r.permutation(len(df))] for c in df.columns})


def resample(df: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    return df.sample(n, replace=True, random_state=seed).reset_index(drop=True)


def context(real: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame | None = None, *,
            kinds: dict | None = None, pii: object = None, **options: object):  # type: ignore[no-untyped-def]
    """An EvalContext as the evaluation builds it: kinds inferred from `real`, tables aligned."""
    from safesynth.metrics.columns import align, infer_kinds
    from safesynth.metrics.context import EvalContext, EvalOptions

    kinds = kinds or infer_kinds(real)
    t = align({"real": real, "synthetic": synthetic, "holdout": holdout}, kinds)
    return EvalContext(real=t["real"], synthetic=t["synthetic"], holdout=t["holdout"], kinds=kinds,
                       options=EvalOptions(**options), pii=pii)  # type: ignore[arg-type]
