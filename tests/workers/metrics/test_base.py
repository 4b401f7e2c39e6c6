"""run_metric: failures become NaN with a reason and never leak an exception's text."""

from __future__ import annotations

import json
import math

from safesynth.errors import BadInputError
from safesynth.metrics.base import Group, Metric, MetricResult, NotApplicable, Status, run_metric
from tests.workers.metrics.tables import context, population


class Exploding(Metric):
    name, title, group = "exploding", "Exploding", Group.QUALITY

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def compute(self, ctx):  # type: ignore[no-untyped-def]
        raise self.exc


def test_errors_and_not_applicable_are_recorded() -> None:
    ctx = context(population(20, 0), population(20, 1))
    boom = run_metric(Exploding(ValueError("secret value 123-45-6789")), ctx)
    assert boom.status is Status.ERROR and math.isnan(boom.score)
    assert "ValueError" in boom.reason and "123-45-6789" not in boom.reason  # type: ignore[operator]
    ours = run_metric(Exploding(BadInputError("spec.evaluation.target: no such column")), ctx)
    assert "spec.evaluation.target" in ours.reason  # type: ignore[operator]
    na = run_metric(Exploding(NotApplicable("no free-text columns")), ctx)
    assert na.status is Status.NOT_APPLICABLE and na.reason == "no free-text columns"


def test_result_json_is_strict_json() -> None:
    import numpy as np

    res = MetricResult("m", "M", Group.PRIVACY, score=math.nan,
                       statistic={"a": np.float32(0.5), "b": math.inf, "c": np.int64(3), "d": (1, 2)},
                       visual={"not": "exported"})
    out = res.to_json()
    assert out["score"] is None and out["statistic"] == {"a": 0.5, "b": None, "c": 3, "d": [1, 2]}
    assert "visual" not in out
    json.dumps(out, allow_nan=False)
