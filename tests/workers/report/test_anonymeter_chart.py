"""The Anonymeter risk chart: one dot and interval per attack, clipped to the 0–1 axis."""

from __future__ import annotations

from safesynth.report import charts


def test_one_dot_per_attack_with_its_interval_in_the_tooltip() -> None:
    rows = [{"label": "singling out (univariate)", "risk": 0.148, "interval": [0.09, 0.21]},
            {"label": "linkability", "risk": 0.0, "interval": [0.0, 0.02]}]
    svg = str(charts.risk_intervals(rows, "Anonymeter attacks: risk"))
    assert svg.count('class="risk"') == 2
    assert "risk 0.148 (95% interval 0.090–0.210)" in svg and "linkability" in svg
    wide = str(charts.risk_intervals([{"label": "x", "risk": 1.4, "interval": [-0.2, 2.0]}], "t"))
    assert 'cx="510.0"' in wide  # clipped to the right end of the axis (560 − 50)
