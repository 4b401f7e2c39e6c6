"""The report's Sequences section: rendered with its charts when spec.data.groupBy is set, absent otherwise.

The evaluation is assembled from the sequence metrics alone (the other metrics
would add seconds and are covered by test_render.py); the report must render
an evaluation whose other groups did not run.
"""

from __future__ import annotations

import re

from safesynth.audit import build_audit
from safesynth.metrics.base import Group, MetricResult, run_metric
from safesynth.metrics.columns import Kind
from safesynth.metrics.evaluation import Evaluation
from safesynth.metrics.registry import METRICS
from safesynth.metrics.scores import privacy_composite, quality_composite
from safesynth.report import charts, render_report
from tests.workers.metrics.test_sequences import KEY, grouped, visits
from tests.workers.report.test_render import EXTERNAL


def sequence_evaluation(*, group_by: bool) -> Evaluation:
    pop = visits(160, 0)
    ids = set(pop["pid"].unique()[:40])
    train, hold = pop[~pop["pid"].isin(ids)], pop[pop["pid"].isin(ids)]
    syn = visits(120, 1, prefix="S").sample(frac=1.0, random_state=0)  # rows out of order: a low score to show
    ctx = grouped(train, syn, hold, **({} if group_by else {"group_by": (), "order_by": None}))
    results: dict[str, MetricResult] = {}
    if group_by:
        results = {cls.name: run_metric(cls(), ctx) for cls in METRICS if cls.group is Group.SEQUENCES}
    kinds = dict(ctx.kinds)
    kinds.update({c: Kind.IDENTIFIER for c in ctx.options.group_by})
    return Evaluation(results=results, sqs=quality_composite(results, 4, 0), dps=privacy_composite(results),
                      kinds=kinds, rows={"real": len(train), "synthetic": len(syn), "holdout": len(hold)},
                      options=ctx.options)


def test_sequences_section_renders_when_grouped() -> None:
    ev = sequence_evaluation(group_by=True)
    assert all(r.ok for r in ev.results.values()), {n: r.reason for n, r in ev.results.items()}
    html = render_report(ev, build_audit(evaluation=ev))
    assert 'id="sequences"' in html and 'href="#sequences"' in html
    section = html[html.index('<section id="sequences">'):]
    section = section[: section.index("</section>")]
    assert f"grouped into entities by {KEY[0]}, ordered by day" in section
    for name in ("sequence_rows_per_entity", "sequence_gaps", "sequence_autocorrelation", "sequence_change",
                 "sequence_entity_columns", "sequence_order", "sequence_membership"):
        assert f'id="metric-{name}"' in section, name
    for chart in ("sequence-rows-chart", "sequence-gaps-chart", "sequence-autocorrelation-chart",
                  "sequence-constant-chart", "sequence-membership-chart"):
        assert f'id="{chart}"' in section, chart
    assert section.count("<svg") >= 5 + 7  # five charts and the cards' score bars
    assert "Lag-1 autocorrelation within entities" in section and "Constant within an entity" in section
    assert not EXTERNAL.search(html)
    assert "Row order within entities" in html[html.index('id="methods"'):]  # explained with the others


def test_no_sequences_section_without_group_by() -> None:
    ev = sequence_evaluation(group_by=False)
    html = render_report(ev, build_audit(evaluation=ev))
    assert 'id="sequences"' not in html and "#sequences" not in html and "sequence-" not in html


def test_paired_hbars_draws_negative_values_left_of_zero_and_escapes_labels() -> None:
    svg = str(charts.paired_hbars(["<b>", "lab"], [0.5, -0.5], [None, 1.0], "t", lo=-1.0, hi=1.0))
    assert "&lt;b&gt;" in svg and "<b>" not in svg
    assert "n/a" in svg  # a missing value draws no bar
    rects = re.findall(r'<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)" height="9"', svg)
    (x_pos, w_pos), (x_neg, w_neg) = rects[0], rects[1]  # real 0.5, then real -0.5
    assert float(x_neg) + float(w_neg) == float(x_pos) and abs(float(w_neg) - float(w_pos)) < 0.2
