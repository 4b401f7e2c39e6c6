"""Every registered metric: metadata, and a result (never an exception) on ordinary and on degenerate tables."""

from __future__ import annotations

import importlib
import math

import pytest

from safesynth.metrics.base import Goal, Group, Metric, MetricResult, run_metric
from safesynth.metrics.registry import METRICS, all_metrics, by_name
from tests.workers.metrics.tables import context, population, split


@pytest.mark.parametrize("cls", METRICS, ids=lambda c: c.name)
def test_metadata(cls: type) -> None:
    assert cls.name and cls.title and isinstance(cls.group, Group) and isinstance(cls.goal, Goal)
    assert cls.min_value < cls.max_value and cls.explanation and cls.advice
    module = importlib.import_module(cls.__module__)
    assert module.__doc__  # documented at module level: the formula and its source
    defined = [v for v in vars(module).values()
               if isinstance(v, type) and issubclass(v, Metric) and v.__module__ == module.__name__]
    assert defined == [cls]  # one metric per module


def test_names_are_unique() -> None:
    assert len(by_name()) == len(METRICS)


@pytest.mark.parametrize("case", ["ordinary", "empty_synthetic", "constant"])
def test_every_metric_returns_a_result(case: str) -> None:
    train, hold = split(population(300, 0), 100)
    syn = population(200, 1)
    if case == "empty_synthetic":
        syn = syn.iloc[:0]
    if case == "constant":
        syn = syn.assign(group="a", age=40)
    ctx = context(train, syn, hold, max_rows=200)
    for metric in all_metrics():
        if metric.name == "text_semantic":
            continue  # no text here; its model load is covered by test_text_semantic
        res = run_metric(metric, ctx)
        assert isinstance(res, MetricResult) and res.name == metric.name
        if res.ok:
            assert metric.min_value <= res.score <= metric.max_value
        else:
            assert res.reason and math.isnan(res.score)
        if case == "ordinary" and metric.name not in ("text_structure", "pii_replay"):
            assert res.ok, (metric.name, res.reason)


def test_missing_synthetic_column_is_scored_not_skipped() -> None:
    train, hold = split(population(300, 0), 100)
    syn = population(200, 1).drop(columns=["income"])
    ctx = context(train, syn, hold)
    res = run_metric(all_metrics()[0], ctx)
    assert [r["column"] for r in res.details] == ctx.tabular  # one row per column, the missing one included
    row = next(r for r in res.details if r["column"] == "income")
    assert row["nullShareSynthetic"] == 1.0 and row["jsDistance"] == pytest.approx(1.0)
    assert res.statistic["maxJsDistance"] == pytest.approx(1.0)  # and it counts in the statistic
