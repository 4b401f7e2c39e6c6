"""Stage prepare: holdout sizing, seeded split, typed outputs, clean errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from safesynth.errors import BadInputError
from safesynth.progress import LogProgress
from safesynth.spec import parse_spec
from safesynth.spec.models import DataSpec
from safesynth.stages import prepare
from safesynth.stages.runner import execute_stage
from safesynth.store import LocalStore


def data(**kw: object) -> DataSpec:
    return DataSpec.model_validate({"uri": "t.csv", **kw})


@pytest.mark.parametrize(
    ("rows", "kw", "expected"),
    [
        (2000, {}, 200),
        (400, {}, 100),  # 10% is 40: raised to minHoldoutRows
        (100_000, {}, 5000),  # capped at maxHoldoutRows
        (1000, {"holdoutRows": 150}, 150),
        (1000, {"holdoutFraction": 0.25}, 250),
    ],
)
def test_holdout_size(rows: int, kw: dict, expected: int) -> None:
    assert prepare.holdout_size(rows, data(**kw)) == expected


@pytest.mark.parametrize(("rows", "kw"), [(150, {}), (1000, {"holdoutRows": 50}), (1000, {"holdoutRows": 950})])
def test_too_few_rows_is_a_clear_error(rows: int, kw: dict) -> None:
    with pytest.raises(BadInputError) as info:
        prepare.holdout_size(rows, data(**kw))
    assert "t.csv" in str(info.value) and "spec.data" in str(info.value)


def test_split_is_seeded_disjoint_and_complete() -> None:
    a_train, a_hold = prepare.split_indices(1000, 100, seed=3)
    b_train, b_hold = prepare.split_indices(1000, 100, seed=3)
    c_train, _ = prepare.split_indices(1000, 100, seed=4)
    assert np.array_equal(a_hold, b_hold) and np.array_equal(a_train, b_train)
    assert not np.array_equal(a_train, c_train)
    assert len(a_hold) == 100 and set(a_train).isdisjoint(a_hold)
    assert sorted([*a_train, *a_hold]) == list(range(1000))


def test_prepare_writes_typed_tables_and_schema(small_csv: Path, tmp_path: Path) -> None:
    spec = parse_spec({"data": {"uri": str(small_csv)}})
    store = LocalStore(tmp_path / "run")
    outcome = execute_stage(prepare, spec, store, LogProgress())
    s = outcome.summary
    assert (s["rows"], s["trainRows"], s["holdoutRows"], s["columns"]) == (400, 300, 100, 6)
    train = pd.read_parquet(tmp_path / "run" / "prepare" / "train.parquet")
    holdout = pd.read_parquet(tmp_path / "run" / "prepare" / "holdout.parquet")
    original = pd.read_csv(small_csv)
    assert set(train["id"]).isdisjoint(holdout["id"])
    assert sorted([*train["id"], *holdout["id"]]) == sorted(original["id"])
    assert pd.api.types.is_integer_dtype(train["age"]) and pd.api.types.is_float_dtype(train["income"])
    schema = json.loads((tmp_path / "run" / "prepare" / "schema.json").read_text())
    assert len(schema["columns"]) == 6
    assert json.dumps(s).find("R-00") == -1  # no data values in the summary


def test_same_seed_same_output(small_csv: Path, tmp_path: Path) -> None:
    spec = parse_spec({"data": {"uri": str(small_csv), "seed": 11}})
    for name in ("a", "b"):
        execute_stage(prepare, spec, LocalStore(tmp_path / name), LogProgress())
    a = pd.read_parquet(tmp_path / "a" / "prepare" / "holdout.parquet")
    b = pd.read_parquet(tmp_path / "b" / "prepare" / "holdout.parquet")
    pd.testing.assert_frame_equal(a, b)


def test_max_rows_subsamples_before_the_split(small_csv: Path, tmp_path: Path) -> None:
    spec = parse_spec({"data": {"uri": str(small_csv), "maxRows": 300}})
    s = execute_stage(prepare, spec, LocalStore(tmp_path / "run"), LogProgress()).summary
    assert (s["inputRows"], s["rows"], s["trainRows"] + s["holdoutRows"]) == (400, 300, 300)


def test_too_small_table_leaves_nothing_behind(tmp_path: Path) -> None:
    path = tmp_path / "tiny.csv"
    pd.DataFrame({"a": range(120), "b": ["x", "y"] * 60}).to_csv(path, index=False)
    spec = parse_spec({"data": {"uri": str(path)}})
    with pytest.raises(BadInputError, match=r"tiny\.csv"):
        execute_stage(prepare, spec, LocalStore(tmp_path / "run"), LogProgress())
    assert not (tmp_path / "run" / "prepare").exists()
