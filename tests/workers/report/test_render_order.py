"""Issue 17's report items: worst columns first, colour scales on heatmaps, attribute inference in a chart and words."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest

from safesynth.metrics.base import Group, MetricResult
from safesynth.report import render, render_report


def _aria(svgs: list[Any]) -> list[str]:
    return [re.search(r'aria-label="([^"]*)"', str(s)).group(1) for s in svgs]  # type: ignore[union-attr]


def test_columns_are_ordered_worst_first_and_unscored_ones_last() -> None:
    rows = [{"column": c, "jsDistance": d} for c, d in
            (("a", 0.1), ("text", None), ("b", 0.5), ("const", math.nan), ("c", 0.3), ("d", 0.3))]
    assert [r["column"] for r in render.worst_columns_first(rows)] == ["b", "c", "d", "a", "text", "const"]


def test_distribution_charts_of_a_wide_table_are_its_worst_columns() -> None:
    n = render.MAX_DISTRIBUTION_CHARTS + 10
    cols = [f"c{i}" for i in range(n)]
    res = MetricResult("column_distribution", "Column distribution stability", Group.QUALITY, score=5.0,
                       details=[{"column": c, "jsDistance": i / 100} for i, c in enumerate(cols)],
                       visual={"histograms": {c: {"type": "categorical", "labels": ["x"], "real": [1.0],
                                                  "synthetic": [1.0]} for c in cols}})
    labels = _aria(render._distribution_charts(res))
    assert len(labels) == render.MAX_DISTRIBUTION_CHARTS
    assert labels[:3] == [f"distribution of c{n - 1}", f"distribution of c{n - 2}", f"distribution of c{n - 3}"]
    assert "distribution of c0" not in labels  # the best columns are the ones left out


def test_heatmaps_show_the_columns_that_moved_most_first() -> None:
    n = render.MAX_HEATMAP_COLUMNS + 5
    moved = n - 1  # the last column's associations moved, no other pair did
    diff = [[0.0 if moved not in (i, j) else 0.6 for j in range(n)] for i in range(n)]
    diff[0][1] = math.nan  # an undefined pair is left out of the means
    assert render.heatmap_order(diff)[0] == moved
    cols = [f"c{i}" for i in range(n)]
    res = MetricResult("column_correlation", "Column correlation stability", Group.QUALITY, score=5.0,
                       visual={"columns": cols, "real": diff, "synthetic": diff, "diff": diff})
    maps = [str(s) for s in render._heatmaps(res)]
    assert len(maps) == 3 and all(s.count('class="colour-scale"') == 1 for s in maps)
    first_cell = re.search(r"<title>([^<]*)</title>", maps[2]).group(1)  # type: ignore[union-attr]
    assert first_cell.startswith(f"c{moved} / c{moved}")
    assert maps[2].count("<title>") == render.MAX_HEATMAP_COLUMNS ** 2


def _inference(**over: Any) -> dict[str, Any]:
    row = {"secret": "smoker", "quasiIdentifiers": 2, "quasiIdentifierColumns": ["age", "zip"], "risk": 0.8,
           "riskLow": 0.57, "riskHigh": 0.91, "riskMeasurable": True, "excess": 0.4, "mainRate": 0.9,
           "mainInterval": [0.83, 0.94], "controlRate": 0.5, "controlInterval": [0.4, 0.6], "baselineRate": 0.3,
           "targets": 100, "attackBeatsBaseline": True}
    return {**row, **over}


def test_attribute_inference_risks_are_explained_in_words() -> None:
    details = [_inference(),
               _inference(secret="group", risk=0.0, riskLow=0.0, riskHigh=0.9, excess=-0.005, mainRate=0.99,
                          controlRate=0.995),
               _inference(secret="sex", risk=0.0, riskLow=0.0, riskHigh=1.0, riskMeasurable=False, excess=0.0,
                          mainRate=1.0, controlRate=1.0, attackBeatsBaseline=False),
               {"secret": "lonely", "note": "no quasi-identifier besides the secret"}]
    res = MetricResult("attribute_inference", "Attribute inference", Group.PRIVACY, score=3.0, details=details,
                       params={"quasiIdentifiersChosen": "spec"})
    found = {f["secret"]: f for f in render.inference_findings(res)}
    assert [f["level"] for f in found.values()] == ["warn", "ok", "muted", "muted"]
    assert found["smoker"]["text"].startswith(
        "An attacker who knows a person's age and zip guesses smoker correctly 90% of the time for people in the "
        "training data, 40 points more than for people the generator never saw (50%)")
    assert "Risk 0.80 (95% interval 0.57–0.91)" in found["smoker"]["text"]
    assert "0.5 points fewer than" in found["group"]["text"] and "(99.5%)" in found["group"]["text"]
    assert "cannot be measured" in found["sex"]["text"] and "no better than random" in found["sex"]["text"]
    assert "not attacked" in found["lonely"]["text"]
    assert not any(re.search(r"[−-]\d", f["text"]) for f in found.values())  # no negative risk in words


@pytest.mark.slow
def test_report_has_scales_inference_chart_and_worst_columns_first(full_evaluation: dict[str, Any]) -> None:
    ev = full_evaluation["evaluation"]
    html = render_report(ev, full_evaluation["audit"])
    corr = re.search(r'<section id="correlations">.*?</section>', html, re.S).group(0)  # type: ignore[union-attr]
    assert corr.count("<svg") == corr.count('class="colour-scale"') == 3
    # attribute inference: a chart first, then one sentence per secret, the numbers folded away below
    ai = ev.results["attribute_inference"]
    chart, words, table = (html.index(f'id="inference-{i}"') for i in ("chart", "findings", "table"))
    assert chart < words < table and html.rindex("<details>", 0, table) > words
    findings = html[words:html.index("</ul>", words)]
    assert findings.count("<li") == len(ai.details) and findings.count("An attacker who knows") == len(ai.details)
    assert html[chart:words].count('class="bar-training"') == len(ai.details)
    # the per-column table and the distribution charts: largest JS distance first
    body = re.search(r'id="column-table">.*?<tbody>(.*?)</tbody>', html, re.S).group(1)  # type: ignore[union-attr]
    shown = re.findall(r"<tr><td>([^<]*)</td>", body)
    js = {c["column"]: c["jsDistance"] for c in ev.columns}
    scored = [js[c] for c in shown if js[c] is not None]
    assert sorted(shown) == sorted(js) and scored == sorted(scored, reverse=True)
    assert shown[len(scored):] == [c for c in js if js[c] is None]  # unscored columns last, in table order
    dist = re.search(r'<section id="distributions">.*?</section>', html, re.S).group(0)  # type: ignore[union-attr]
    charts_order = re.findall(r'aria-label="(?:histogram|distribution) of ([^"]*)"', dist)
    assert charts_order == [c for c in shown if js[c] is not None]
