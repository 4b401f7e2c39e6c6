"""What the three Anonymeter attacks share: their samples, the tables in Anonymeter's terms, and its risks.

Anonymeter (Giomi et al. 2023, PoPETs; the `anonymeter` package, reviewed by
the French regulator CNIL) runs each attack three ways: on training rows
(main, `ori`), on holdout rows the generator never saw (control) and as a
random guess (baseline). Its risk is what training membership adds:

    risk = (r_main − r_control) / (1 − r_control),

with a 95% interval from Wilson score intervals of the rates. Callers:
`singling_out`, `linkability`, `anonymeter_inference`.

Main and control are the same size: as many training rows as holdout rows
(at most `MAX_ORIGINAL` each), seeded samples. Anonymeter's documented use
(the whole training table as `ori`, a smaller control, its size correction)
measures table size, not memorisation: in anonymeter 1.1.0 the correction's
fit counts queries instead of successes, so it corrects nothing, and a
predicate is more often unique among 1,800 people than among 200 whatever
the generator did. Measured (tests/workers/metrics/test_anonymeter_attacks.py has the null case): with a synthetic table
drawn from the population, never from the training rows, 1,800 vs 200 rows
gave singling-out risk 0.211 (multivariate), equal sizes 0.036; the
quickstart's output 0.145 vs 0.000. The price of equal sizes is that the
risk is per holdout-sized group of people: a value memorised from one person
counts only when that person is in the sample.

Linkability and inference attack at most `MAX_TARGETS` people per side, and
the attacker searches at most `MAX_SYNTHETIC` synthetic rows; every sample is
seeded. Anonymeter draws its targets with numpy's global generator,
unseeded; we pin that generator for the call, so the same tables and seed
give the same risks.

Columns: the tabular ones (numbers and dates as float64, dates in days;
categories and booleans as canonical strings, null as its own token), the same
view the other privacy metrics use. Text and identifier columns are scored by
PII replay and copies, not here.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import pandas as pd

from safesynth.metrics.base import NotApplicable
from safesynth.metrics.columns import CONTINUOUS, canonical, to_float
from safesynth.metrics.context import EvalContext, rng_for

MAX_ORIGINAL = 5000  # holdout rows (and as many training rows) the attacks run against
MAX_TARGETS = 500  # people attacked per side by linkability and inference; Anonymeter's default n_attacks
MAX_SYNTHETIC = 2000  # synthetic rows the attacker searches

# Anonymeter logs failed queries at DEBUG with their text (data values); keep its logs at WARNING and up.
logging.getLogger("anonymeter").setLevel(logging.WARNING)


def enable_kernel_cache() -> None:
    """Cache Anonymeter's numba k-NN kernel on disk (numba's own cache: beside the module, else the user's cache).

    Compiling it costs 5–7 s in every new process on this 2-core machine, more than the attacks themselves;
    Anonymeter does not ask numba to cache, so we do. Called by the metrics that use the kernel.
    """
    from anonymeter.neighbors import mixed_types_kneighbors as knn

    for fn in (knn.gower_distance, knn._nearest_neighbors):
        if getattr(fn, "_cache", None) is not None and type(fn._cache).__name__ == "NullCache":
            fn.enable_caching()


@dataclass
class AttackTables:
    """Seeded samples, encoded for Anonymeter (float64 numbers and dates, string categories)."""

    columns: list[str]
    main: pd.DataFrame  # training rows (Anonymeter's ori), as many as control rows
    control: pd.DataFrame  # holdout rows
    synthetic: pd.DataFrame
    continuous: set[str]
    notes: list[str] = field(default_factory=list)

    @property
    def params(self) -> dict[str, Any]:
        return {"trainingRows": len(self.main), "controlRows": len(self.control), "syntheticRows": len(self.synthetic),
                "columns": len(self.columns), "library": "anonymeter " + _version()}

    @property
    def n_targets(self) -> int:
        """People attacked per side by linkability and inference."""
        return min(len(self.main), len(self.control), MAX_TARGETS)


def _version() -> str:
    from importlib.metadata import version

    return version("anonymeter")


def _encode(df: pd.DataFrame, columns: list[str], continuous: set[str]) -> pd.DataFrame:
    out = {c: (to_float(df[c]) if c in continuous else canonical(df[c].reset_index(drop=True)).astype(str).to_numpy())
           for c in columns}
    return pd.DataFrame(out, columns=columns)


def attack_tables(ctx: EvalContext, max_original: int = MAX_ORIGINAL,
                  max_synthetic: int = MAX_SYNTHETIC) -> AttackTables:
    """Training rows, holdout rows and a synthetic sample, each seeded; NotApplicable without a holdout."""
    if ctx.holdout is None or len(ctx.holdout) == 0:
        raise NotApplicable("no holdout: Anonymeter's control attack needs rows the generator never saw")
    cols = [c for c in ctx.tabular if ctx.real[c].notna().any()]
    if not cols:
        raise NotApplicable("no numeric, date, categorical or boolean column to attack")
    cont = {c for c in cols if ctx.kinds[c] in CONTINUOUS}
    control = ctx.sample(ctx.holdout, "anonymeter-control", max_original)
    main = ctx.sample(ctx.real, "anonymeter-main", len(control))
    syn = ctx.sample(ctx.synthetic, "anonymeter-synthetic", max_synthetic)
    notes = []
    if len(ctx.real) > len(main) or len(ctx.holdout) > len(control):
        notes.append(f"attacks run against {len(main)} of {len(ctx.real)} training and {len(control)} of "
                     f"{len(ctx.holdout)} holdout rows (seeded samples)")
    if len(ctx.synthetic) > len(syn):
        notes.append(f"the attacker searches a seeded sample of {len(syn)} of {len(ctx.synthetic)} synthetic rows")
    return AttackTables(cols, _encode(main, cols, cont), _encode(control, cols, cont), _encode(syn, cols, cont),
                        cont, notes)


@contextlib.contextmanager
def pinned_global_rng(seed: int, salt: str) -> Iterator[None]:
    """Seed numpy's global generator (Anonymeter's `DataFrame.sample` calls use it) and restore it after."""
    state = np.random.get_state()
    np.random.seed(int(rng_for(seed, salt).integers(0, 2**31 - 1)))
    try:
        with warnings.catch_warnings():
            # "attack is as good or worse as baseline": we report the rates and say so ourselves
            warnings.simplefilter("ignore")
            yield
    finally:
        np.random.set_state(state)


def risk_json(evaluator: Any, baseline: bool = True) -> dict[str, Any]:
    """Anonymeter's risk, its 95% interval and the three success rates, as plain floats."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = evaluator.results(confidence_level=0.95)
        risk = res.risk()
    out: dict[str, Any] = {
        "risk": float(risk.value), "riskInterval": [float(risk.ci[0]), float(risk.ci[1])],
        "mainRate": float(res.attack_rate.value), "mainRateError": float(res.attack_rate.error),
        "controlRate": float(res.control_rate.value), "controlRateError": float(res.control_rate.error),
        "attacks": int(res.n_attacks_ori), "mainSuccesses": int(res.n_success),
        "controlSuccesses": float(res.n_control),
    }
    if baseline:
        out["baselineRate"] = float(res.baseline_rate.value)
        out["attackBeatsBaseline"] = bool(res.attack_rate.value - res.attack_rate.error > res.baseline_rate.value)
    return out
