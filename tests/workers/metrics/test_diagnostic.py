"""Diagnostic: boundaries, categories, key uniqueness and kinds, after SDMetrics' DiagnosticReport."""

from __future__ import annotations

from safesynth.metrics.base import run_metric
from safesynth.metrics.columns import align, infer_kinds
from safesynth.metrics.context import EvalContext
from safesynth.metrics.diagnostic import Diagnostic
from tests.workers.metrics.tables import population


def test_out_of_range_unknown_categories_and_unparsable_values_lower_the_score() -> None:
    real = population(300, 0)
    good = population(300, 1)
    bad = good.copy()
    bad["age"] = bad["age"] + 200  # every age beyond the real maximum
    bad.loc[:99, "group"] = "zz"  # a third invented category
    bad["score"] = bad["score"].astype(object)
    bad.loc[:149, "score"] = "abc"
    bad["id"] = "same"  # keys not unique
    kinds = infer_kinds(real)

    def run(syn):  # type: ignore[no-untyped-def]
        t = align({"real": real, "synthetic": syn}, kinds)
        ctx = EvalContext(real=t["real"], synthetic=t["synthetic"], holdout=None, kinds=kinds,
                          synthetic_non_null={c: int(syn[c].notna().sum()) for c in syn.columns})
        return run_metric(Diagnostic(), ctx)

    ok, broken = run(good), run(bad)
    assert ok.score > 0.95 and broken.score < ok.score
    rows = {(d["column"], d["check"]): d["score"] for d in broken.details}
    assert rows[("age", "BoundaryAdherence")] == 0.0
    assert abs(rows[("group", "CategoryAdherence")] - 2 / 3) < 0.01
    assert rows[("id", "KeyUniqueness")] < 0.01
    assert rows[("score", "KindAdherence")] < 0.6
    assert broken.details[0]["score"] == 0.0  # worst first
