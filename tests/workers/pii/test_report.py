"""The report and summary: per-column facts in counts, never a value."""

from __future__ import annotations

import json

import pandas as pd

from safesynth.pii.classify import classify_table
from safesynth.pii.keys import KeyRing
from safesynth.pii.plan import build_plan
from safesynth.pii.replace import apply_plan
from safesynth.pii.report import build_report, summarize
from safesynth.schema import coerce_to_schema, infer_schema
from safesynth.spec.models import PiiSpec
from tests.workers.pii.tables import patients_table


def test_report_counts_and_never_quotes_values(keys: KeyRing) -> None:
    raw = patients_table(60, seed=5).drop(columns=["note"])
    schema = infer_schema(raw)
    df = coerce_to_schema(raw, schema)
    pii = PiiSpec()
    plan = build_plan(schema, classify_table(df, schema, pii), pii)
    applied = apply_plan(df, plan, keys, pii, schema=schema)
    report = build_report(plan, applied, n_train=50, n_holdout=10, keys=keys, pii=pii, output_schema=schema)
    cols = {c["column"]: c for c in report["columns"]}
    assert cols["email"]["changed"] == {"train": 50, "holdout": 10}
    assert cols["sex"]["changed"] == {"train": 0, "holdout": 0} and cols["sex"]["mode"] == "none"
    assert cols["ssn"]["entity"] == "US_SSN" and cols["ssn"]["signals"][0]["source"] == "name"
    assert report["key"] == {"source": "environment", "fingerprint": keys.fingerprint}
    text = json.dumps(report)
    for col in ("first_name", "last_name", "email", "phone", "ssn", "street_address", "city"):
        for value in pd.concat([raw[col], applied.table[col].astype(str)]):
            assert str(value) not in text, col
    summary = summarize(report)
    assert summary["piiColumns"] >= 10 and summary["changedCells"]["train"] > 0
    assert summary["entities"]["email"] == "EMAIL_ADDRESS" and "state" not in summary["actions"]
    ephemeral = build_report(plan, applied, n_train=50, n_holdout=10, keys=KeyRing(b"x" * 32, "ephemeral"), pii=pii,
                             output_schema=schema)
    assert ephemeral["key"] == {"source": "ephemeral"}
