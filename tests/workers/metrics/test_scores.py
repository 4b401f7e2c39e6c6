"""0–10 curves, grades and composites: nothing dropped silently, a zero is a score."""

from __future__ import annotations

import itertools
import math

import pytest

from safesynth.metrics import scores
from safesynth.metrics.base import Group, MetricResult, Status


def test_reference_curves_at_their_breakpoints() -> None:
    assert scores.distribution_score(0.0) == 10 and scores.distribution_score(1.0) == 0
    assert scores.distribution_score(0.5) == pytest.approx(7.44 * 0.25 - 16.646 * 0.5 + 10.305)
    assert scores.correlation_score(0.005) == 10 and scores.correlation_score(0.5) == 0
    assert scores.correlation_score(0.2) == pytest.approx(37.562 * 0.04 - 35.643 * 0.2 + 10.056)
    assert scores.deep_structure_score(0.0) == 10 and scores.deep_structure_score(1.0) == pytest.approx(10 * math.exp(-1.6))
    assert scores.text_structure_score(0.1) == 10 and scores.text_structure_score(0.9) == 1.5
    assert scores.text_structure_score(0.4) == pytest.approx(6.5)


def test_curves_decrease() -> None:
    xs = [i / 50 for i in range(51)]
    for f in (scores.distribution_score, scores.correlation_score, scores.deep_structure_score,
              scores.text_structure_score):
        ys = [f(x) for x in xs]
        assert all(a >= b - 1e-9 for a, b in itertools.pairwise(ys)), f.__name__


def test_privacy_curves() -> None:
    assert scores.membership_score(0.5, 0.0) == 10.0
    assert scores.membership_score(1.0, 0.0) == 0.0
    assert scores.membership_score(0.566, math.log(17.2)) < 3.0  # the peers' leak row
    assert scores.membership_score(0.51, math.log(1.3)) > 8.0  # the peers' CTGAN row
    assert scores.attribute_score(0.0) == 10 and scores.attribute_score(1.0) == 0
    assert scores.attribute_score(-0.3) == 10
    assert scores.dcr_score(0.5, 0.0) == 10 and scores.dcr_score(1.0, 0.0) == 0 and scores.dcr_score(0.5, 1.0) == 0
    assert scores.replay_score(0.0) == 10 and scores.replay_score(0.25) == 7.5


@pytest.mark.parametrize(("score", "grade"), [(10, "Excellent"), (8.0, "Excellent"), (7.99, "Good"), (4, "Moderate"),
                                              (2.5, "Poor"), (0, "Very poor"), (math.nan, "Not available")])
def test_grades(score: float, grade: str) -> None:
    assert scores.grade(score) == grade


def ok(name: str, score: float, group: Group = Group.PRIVACY) -> MetricResult:
    return MetricResult(name, name, group, score=score)


def test_dps_keeps_a_zero_and_flags_a_failure() -> None:
    results = {"membership_inference": ok("membership_inference", 0.0), "attribute_inference": ok("attribute_inference", 10.0),
               "anonymeter_inference": ok("anonymeter_inference", 10.0), "singling_out": ok("singling_out", 7.0),
               "linkability": ok("linkability", 9.0), "dcr": ok("dcr", 8.0),
               "pii_replay": MetricResult("pii_replay", "PII replay", Group.PRIVACY, status=Status.NOT_APPLICABLE,
                                          reason="the PII stage did not run")}
    dps = scores.privacy_composite(results)
    # weights 1 (membership, singling out, linkability, DCR) and ½ + ½ (the two inference attacks)
    assert dps.value == pytest.approx((0 + 7 + 9 + 5 + 5 + 8) / 5) and dps.complete  # the 0 counts
    assert [c.included for c in dps.components] == [True] * 6 + [False]  # not-applicable is listed, not failed
    results["dcr"] = MetricResult("dcr", "DCR", Group.PRIVACY, status=Status.ERROR, reason="ValueError")
    dps = scores.privacy_composite(results)
    assert dps.value == pytest.approx((0 + 7 + 9 + 5 + 5) / 4) and not dps.complete
    assert "failed" in next(c.reason for c in dps.components if c.name == "dcr")  # type: ignore[operator]


def test_sqs_weights_tabular_and_text_by_column_counts() -> None:
    q = {"deep_structure": ok("deep_structure", 10, Group.QUALITY), "column_distribution": ok("column_distribution", 10, Group.QUALITY),
         "column_correlation": ok("column_correlation", 10, Group.QUALITY), "text_semantic": ok("text_semantic", 0, Group.QUALITY),
         "text_structure": ok("text_structure", 0, Group.QUALITY)}
    assert scores.quality_composite(q, n_tabular=3, n_text=1).value == pytest.approx(7.5)
    assert scores.quality_composite(q, n_tabular=3, n_text=0).value == pytest.approx(10.0)
    q["column_correlation"] = ok("column_correlation", 0, Group.QUALITY)
    assert scores.quality_composite(q, 3, 0).value == pytest.approx(10 * (0.84 + 0.86) / 2.7)
