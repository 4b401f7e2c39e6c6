"""The whole evaluation: composites, metrics.json and the summary."""

from __future__ import annotations

import json

import pytest

from safesynth.metrics.context import EvalOptions
from safesynth.metrics.evaluation import evaluate
from tests.workers.metrics.tables import population, resample, split


@pytest.mark.slow  # ≥ 2 s on 2 cores (make test-fast stays under 2 min)
def test_good_synthetic_table_end_to_end() -> None:
    train, hold = split(population(1200, 0), 300)
    ev = evaluate(train, population(900, 1), hold, options=EvalOptions(max_rows=600, seed=7))
    s = ev.summary()
    assert s["sqs"] > 8 and s["dps"] > 7 and s["sqsGrade"] == "Excellent" and s["sqsComplete"] and s["dpsComplete"]
    doc = ev.to_json()
    json.dumps(doc, allow_nan=False)  # strict JSON
    assert set(doc["metrics"]) >= {"column_distribution", "membership_inference", "sdmetrics_quality", "ml_utility"}
    assert doc["metrics"]["pii_replay"]["status"] == "notApplicable"
    assert doc["options"]["seed"] == 7 and doc["rows"] == {"real": 900, "synthetic": 900, "holdout": 300}
    assert {c["column"] for c in doc["columns"]} == set(train.columns)
    # no data values: the summary holds numbers, grades and column counts only
    text = json.dumps(s)
    assert "P-0-" not in text and "yes" not in text


@pytest.mark.slow  # ≥ 2 s on 2 cores (make test-fast stays under 2 min)
def test_copy_vs_holdout_draw() -> None:
    train, hold = split(population(1000, 0), 250)
    copy = evaluate(train, train.copy(), hold).summary()
    drawn = evaluate(train, resample(hold, 750, 0), hold).summary()
    assert copy["sqs"] == 10.0 and copy["dps"] < 2.0
    assert drawn["dps"] > 8.0


@pytest.mark.slow  # ≥ 2 s on 2 cores (make test-fast stays under 2 min)
def test_same_seed_same_numbers() -> None:
    train, hold = split(population(600, 0), 150)
    syn = population(400, 1)
    a = evaluate(train, syn, hold, options=EvalOptions(seed=3)).to_json()
    b = evaluate(train, syn, hold, options=EvalOptions(seed=3)).to_json()
    for m in a["metrics"]:
        a["metrics"][m].pop("seconds"), b["metrics"][m].pop("seconds")
    a.pop("seconds"), b.pop("seconds")
    assert a == b
