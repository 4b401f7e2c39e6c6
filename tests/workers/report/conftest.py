"""A full evaluation (text, PII replacement, DP summary) shared by the report tests."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workers.metrics.tables import population, split

PII_REPORT = {"columns": {
    "name": {"entity": "PERSON", "confidence": 0.97, "action": "fake", "valuesChanged": 700,
             "signals": ["name-hint", "ner"], "examples": ["MUST NOT BE COPIED"]},
    "zip": {"entity": "ZIP_CODE", "confidence": 0.9, "action": "generalize"},
    "age": {"entity": None, "action": "keep"},
}}


@pytest.fixture(scope="session")
def full_evaluation() -> dict[str, Any]:
    import torch

    from safesynth.audit import build_audit
    from safesynth.metrics.context import EvalOptions, PiiInputs
    from safesynth.metrics.evaluation import evaluate
    from safesynth.spec.models import GatesSpec

    torch.set_num_threads(1)
    base = population(900, 0, text=True)
    base["name"] = [f"Real Person{i}" for i in range(len(base))]
    base["zip"] = [f"{10000 + i % 90:05d}" for i in range(len(base))]
    train_orig, hold_orig = split(base, 200)
    train = train_orig.assign(name=[f"Fake Name{i}" for i in range(len(train_orig))],
                              zip=train_orig["zip"].str[:3] + "00")
    hold = hold_orig.assign(name=[f"Fake Other{i}" for i in range(len(hold_orig))], zip=hold_orig["zip"].str[:3] + "00")
    syn = population(700, 1, text=True)
    syn["name"] = [f"Fake Name{i}" if i % 10 else f"Real Person{i}" for i in range(len(syn))]  # 10% replayed
    syn["zip"] = train["zip"].sample(len(syn), replace=True, random_state=0).to_numpy()
    replaced = {"name": {"entity": "PERSON", "action": "fake", "freeText": False},
                "zip": {"entity": "ZIP_CODE", "action": "generalize", "freeText": False}}
    pii = PiiInputs(original_train=train_orig, original_holdout=hold_orig, replaced=replaced, free_text=[],
                    replaced_train=train, replaced_holdout=hold)
    dp = {"enabled": True, "epsilonSpent": 7.9, "delta": 1e-5, "accountant": "prv"}
    ev = evaluate(train, syn, hold, pii=pii, dp=dp, options=EvalOptions(max_rows=500, seed=1, text_max_values=40))
    ev.apply_gates(GatesSpec(min_quality=9.5))  # a strict quality gate fails: the report must say so first
    audit = build_audit(evaluation=ev, pii_report=PII_REPORT, replaced=replaced,
                        train_summary={"epsilonSpent": 7.9, "delta": 1e-5, "accountant": "prv", "noiseMultiplier": 0.61},
                        stage_summaries={"prepare": {"startedAt": "2024-01-01T00:00:00Z", "finishedAt": "2024-01-01T00:00:02Z",
                                                     "durationSeconds": 2.0}})
    return {"evaluation": ev, "audit": audit}
