"""SVG charts: well-formed, escaped, no external references."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

from safesynth.report import charts

EVIL = '<script>alert("x")</script> & "quotes"'


def well_formed(svg: str) -> ET.Element:
    return ET.fromstring(str(svg))


@pytest.mark.parametrize("make", [
    lambda: charts.gauge(7.3, EVIL, "Good"),
    lambda: charts.gauge(math.nan, "SQS", "Not available"),
    lambda: charts.paired_bars([EVIL, "b"], [0.5, 0.5], [0.2, 0.8], EVIL),
    lambda: charts.histogram([0, 1, 2], [0.3, 0.7], [0.5, 0.5], EVIL, tick_labels=["a", "b", EVIL]),
    lambda: charts.heatmap([[1.0, math.nan], [-0.5, 1.0]], [EVIL, "y"], EVIL),
    lambda: charts.scatter([[0, 1], [1, 2]], [[0.5, 1.5]], EVIL),
    lambda: charts.roc({EVIL: {"fpr": [0, 0.5, 1], "tpr": [0, 0.7, 1]}}, EVIL),
    lambda: charts.score_bar(None),
    lambda: charts.inference_rates([{"secret": EVIL, "mainRate": 0.7, "mainInterval": [0.6, 0.8], "controlRate": 0.5,
                                     "controlInterval": [0.4, 0.6], "baselineRate": 0.3}], EVIL),
])
def test_each_chart_is_well_formed_and_escaped(make) -> None:  # type: ignore[no-untyped-def]
    svg = str(make())
    root = well_formed(svg)
    assert root.tag == "svg" and "<script" not in svg
    assert "http" not in svg and "href" not in svg


def test_gauge_arc_grows_with_the_score() -> None:
    low, high = str(charts.gauge(2.0, "x", "Poor")), str(charts.gauge(9.0, "x", "Excellent"))
    assert low.count("<path") == high.count("<path") == 2
    assert charts.grade_colour("Excellent") in high and charts.grade_colour("Poor") in low


@pytest.mark.parametrize("diverging, labels", [(True, ["1", "0", "−1"]), (False, ["≥ 1", "0.5", "0"])])
def test_heatmap_has_a_colour_scale_with_its_range(diverging: bool, labels: list[str]) -> None:
    """Without a scale the colours cannot be read as numbers (issue 17): top label the maximum, bottom the minimum."""
    root = well_formed(charts.heatmap([[1.0, 0.2], [-0.4, 1.0]], ["a", "b"], "t", diverging=diverging))
    scales = [g for g in root.iter("g") if g.get("class") == "colour-scale"]
    assert len(scales) == 1
    steps = [r for r in scales[0].iter("rect") if r.get("fill") != "none"]
    assert len(steps) == charts.SCALE_STEPS
    labels_top_down = sorted(scales[0].iter("text"), key=lambda t: float(t.get("y", 0)))
    assert [t.text for t in labels_top_down] == labels
    assert steps[0].get("fill") != steps[-1].get("fill")
    assert len([r for r in root.iter("rect") if r.find("title") is not None]) == 4  # the cells, legend apart


def test_inference_rates_draws_two_bars_per_secret_scaled_to_the_rate() -> None:
    rows = [{"secret": s, "mainRate": m, "mainInterval": [m - 0.05, m + 0.05], "controlRate": c,
             "controlInterval": [c - 0.05, c + 0.05], "baselineRate": 0.2}
            for s, m, c in (("smoker", 0.9, 0.5), ("age", 0.3, 0.3))]
    root = well_formed(charts.inference_rates(rows, "t"))
    bars = {cls: [r for r in root.iter("rect") if r.get("class") == cls]
            for cls in ("bar-training", "bar-holdout")}
    assert len(bars["bar-training"]) == len(bars["bar-holdout"]) == 2
    assert len([e for e in root.iter() if e.get("class") == "baseline"]) == 2
    width = {cls: [float(r.get("width", 0)) for r in rs] for cls, rs in bars.items()}
    assert width["bar-training"][0] == pytest.approx(width["bar-holdout"][0] * 0.9 / 0.5, rel=0.01)
    assert width["bar-training"][1] == pytest.approx(width["bar-holdout"][1])
    assert "99.5%" in str(charts.inference_rates([{**rows[0], "mainRate": 0.995}], "t"))  # never rounded up to 100%
