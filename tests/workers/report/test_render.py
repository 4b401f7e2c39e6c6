"""The HTML report: every section present, self-contained, escaped, and robust to failed metrics."""

from __future__ import annotations

import re
from typing import Any

from safesynth.metrics.base import Group, MetricResult, Status
from safesynth.metrics.evaluation import evaluate
from safesynth.metrics.scores import quality_composite
from safesynth.report import render_report
from tests.workers.metrics.tables import population, split

EXTERNAL = re.compile(r"""(?:src|href|action|poster|data)\s*=\s*["']?\s*(?:https?:|//|ftp:)|url\(|@import|<script|<link|<iframe|<object|<embed""", re.I)


def test_all_sections_and_no_external_reference(full_evaluation: dict[str, Any]) -> None:
    html = render_report(full_evaluation["evaluation"], full_evaluation["audit"])
    for anchor in ("report-title", "sqs-gauge", "dps-gauge", "dp-box", "column-table", "distributions", "correlations",
                   "structure", "roc-chart", "attack-table", "pii-table", "hipaa-table", "audit", "methods",
                   "metric-text_semantic", "metric-ml_utility", "metric-sdmetrics_quality"):
        assert f'id="{anchor}"' in html, anchor
    assert not EXTERNAL.search(html), EXTERNAL.search(html)
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert "ε = 7.90" in html and "prv" in html
    assert "MUST NOT BE COPIED" not in html and "Real Person" not in html  # no PII values, only counts
    assert html.count("<svg") >= 15


def test_labels_are_escaped() -> None:
    train, hold = split(population(300, 0), 100)
    evil = '<script>alert("x")</script>'
    train = train.rename(columns={"group": evil})
    ev = evaluate(train, train.sample(150, random_state=0), hold.rename(columns={"group": evil}))
    from safesynth.audit import build_audit

    html = render_report(ev, build_audit(evaluation=ev))
    assert evil not in html and "&lt;script&gt;" in html


def test_a_failed_metric_still_renders_with_its_reason() -> None:
    train, hold = split(population(300, 0), 100)
    ev = evaluate(train, population(200, 1), hold)
    ev.results["deep_structure"] = MetricResult("deep_structure", "Deep structure stability", Group.QUALITY,
                                                status=Status.ERROR, reason="LinAlgError (message hidden)")
    ev.sqs = quality_composite(ev.results, 6, 0)
    from safesynth.audit import build_audit

    html = render_report(ev, build_audit(evaluation=ev))
    assert "could not be computed" in html and "LinAlgError (message hidden)" in html
    assert "Incomplete" in html and not ev.sqs.complete
