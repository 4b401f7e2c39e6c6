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
