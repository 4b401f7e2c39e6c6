"""Issue 18 item 3: under DP the PII stage's fakes are not learned and cost no epsilon; generate fakes them again.

Without DP the same columns are learned as before (`refaked_kinds` leaves the kinds alone).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from safesynth.generator.column_info import columns_from_json
from safesynth.pii.formats import ascii_slug
from safesynth.progress import LogProgress
from safesynth.stages import generate, train
from safesynth.stages.runner import execute_stage
from safesynth.store import LocalStore
from tests.workers.generator.helpers import KINDS, schema_json, tiny_spec, tiny_table

FAKED = {"first_name": "FIRST_NAME", "last_name": "LAST_NAME", "email": "EMAIL_ADDRESS", "city": "CITY"}
DP = {"enabled": True, "epsilon": 8.0}


def pii_output(store: LocalStore, n: int = 120) -> pd.DataFrame:
    """Stand in for the PII stage: a table whose name, email and city columns hold fakes, and its report."""
    df = tiny_table(n).drop(columns=["note"])
    df["first_name"] = pd.Series([f"Zorblax{i % 7}" for i in range(n)], dtype="string")
    df["last_name"] = pd.Series([f"Quuxley{i % 5}" for i in range(n)], dtype="string")
    df["email"] = pd.Series([f"zorblax{i}@example.org" for i in range(n)], dtype="string")
    df["city"] = pd.Series(["Vextown"] * n, dtype="string")
    kinds = {**KINDS, "first_name": "categorical", "last_name": "categorical", "email": "identifier",
             "city": "categorical"}
    store.write_table("pii/train.parquet", df)
    store.write_json("pii/schema.json", schema_json(df, kinds))
    columns: list[dict[str, Any]] = [
        {"column": c, "entity": e, "action": "fake", "mode": "structured", "outputKind": kinds[c]}
        for c, e in FAKED.items()]
    columns.append({"column": "pid", "entity": "IDENTIFIER", "action": "tokenize", "mode": "structured",
                    "outputKind": "identifier"})
    store.write_json("pii/report.json", {"version": 1, "enabled": True, "columns": columns})
    return df


def test_without_dp_the_fakes_are_learned(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "run")
    df = pii_output(store)
    kinds = {c: "categorical" for c in df.columns}
    spec = tiny_spec(tmp_path)
    assert train.refaked_kinds(store, "pii", spec.privacy, kinds) == (kinds, {})


@pytest.mark.slow  # the DP releases and 1,000 public rows: a few seconds
def test_under_dp_the_fakes_leave_the_corpus_and_the_budget(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "run")
    df = pii_output(store)
    spec = tiny_spec(tmp_path, privacy=DP)
    kinds, refaked = train.refaked_kinds(store, "pii", spec.privacy, {c: k["kind"] for c, k in (
        (c["name"], c) for c in store.read_json("pii/schema.json")["columns"])})
    assert refaked == FAKED and all(kinds[c] == "empty" for c in FAKED) and kinds["group"] == "categorical"
    corpus = train.build_corpus(df, kinds, spec.privacy, 0, "pii")
    assert corpus.budget is not None and corpus.public_fields is not None
    released = corpus.budget.to_json()
    assert not set(FAKED) & set(released["releasedCategories"] + released["releasedBounds"])  # no epsilon for them
    assert "group" in released["releasedCategories"]
    text = " ".join(f for row in corpus.fields + corpus.public_fields for f in row if f)
    assert not any(w in text for w in ("Zorblax", "Quuxley", "zorblax", "Vextown"))
    assert all(len(row) == sum(c.modeled for c in corpus.columns) for row in corpus.fields)


def check_refaked(out: pd.DataFrame, n: int) -> None:
    """Present, never null, varied, no training value, and each row's email built from the row's names."""
    assert len(out) == n and out[list(FAKED)].notna().all().all()
    assert out["first_name"].nunique() > 20 and out["email"].is_unique and out["city"].nunique() > 20
    assert not out["first_name"].str.startswith("Zorblax").any() and not (out["city"] == "Vextown").any()
    for first, last, email in zip(out["first_name"], out["last_name"], out["email"]):
        local = email.split("@")[0]
        assert ascii_slug(last)[0] in local and local[0] == ascii_slug(first)[0]  # the row's person


@pytest.mark.slow  # the DP marginal model, then sampling
def test_under_dp_generate_fakes_them_again_one_person_per_row(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "run")
    pii_output(store)
    spec = tiny_spec(tmp_path, privacy={**DP, "route": "marginal"}, generation={"numRecords": 50})
    s = execute_stage(train, spec, store, LogProgress()).summary
    assert not set(FAKED) & set(s["privacyBudget"]["releasedCategories"])  # no epsilon booked for them
    assert s["columnsRefaked"] == sorted(FAKED)  # the marginal route's summary says so too, as the LM route's
    manifest = store.read_json("train/model/marginal.json")
    assert {c["name"]: c["extra"].get("refake") for c in manifest["columns"] if c["name"] in FAKED} == FAKED
    (tmp_path / "run" / "pii" / "train.parquet").unlink()  # generate reads no training row
    execute_stage(generate, spec, store, LogProgress())
    check_refaked(store.read_table("generate/synthetic.parquet"), 50)


@pytest.mark.slow  # DP-SGD on a tiny model (sampling from it is covered by test_generate; here only the refakes)
def test_the_language_model_route_marks_them_and_generate_fills_them(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    store = LocalStore(tmp_path / "run")
    pii_output(store)
    spec = tiny_spec(tmp_path, training={"maxSteps": 4}, privacy={**DP, "route": "lm"})
    s = execute_stage(train, spec, store, LogProgress()).summary
    assert s["columnsRefaked"] == sorted(FAKED) and not set(FAKED) & set(s["privacyBudget"]["releasedCategories"])
    assert "Zorblax" not in store.read_text("train/model/tokenizer/tokenizer.json")
    cols = columns_from_json(store.read_json("train/model/safesynth.json")["columns"])
    assert not any(c.modeled for c in cols if c.name in FAKED)
    sampled = generate.assemble_table([[30, 1.0, "a", True, None]] * 50, cols, None, 50,
                                      np.random.default_rng(0))
    check_refaked(generate.refake_columns(sampled, cols, "en_US"), 50)
