"""Column kinds and the coercion that puts real and synthetic tables on one footing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from safesynth.metrics.columns import NULL_TOKEN, Kind, align, canonical, coerce, infer_kind, kinds_from_schema
from tests.workers.metrics.tables import population


@pytest.mark.parametrize("schema", [
    {"columns": [{"name": "a", "kind": "integer"}, {"name": "b", "kind": "text"}, {"name": "c", "kind": "identifier"}]},
    {"columns": {"a": {"kind": "float"}, "b": {"kind": "text"}, "c": {"kind": "identifier"}}},
])
def test_kinds_from_either_schema_shape(schema: dict) -> None:
    assert kinds_from_schema(schema) == {"a": Kind.NUMERIC, "b": Kind.TEXT, "c": Kind.IDENTIFIER}


def test_inferred_kinds_of_the_test_population() -> None:
    df = population(300, 0, text=True)
    kinds = {c: infer_kind(df[c]) for c in df.columns}
    assert kinds == {"id": Kind.IDENTIFIER, "age": Kind.NUMERIC, "income": Kind.NUMERIC, "group": Kind.CATEGORICAL,
                     "smoker": Kind.BOOLEAN, "score": Kind.NUMERIC, "visit": Kind.DATETIME, "notes": Kind.TEXT}
    assert infer_kind(pd.Series([None, None])) is Kind.EMPTY


def test_canonical_labels_unify_numbers_and_mark_nulls() -> None:
    assert canonical(pd.Series([1.0, 2.5, np.nan])).tolist() == ["1", "2.5", NULL_TOKEN]
    assert canonical(pd.Series(["1", None, True], dtype=object)).tolist() == ["1", NULL_TOKEN, "True"]
    assert canonical(pd.Series(["x", None], dtype="string")).tolist() == ["x", NULL_TOKEN]  # prepare's dtype
    assert canonical(pd.Series([True, False])).tolist() == ["True", "False"]
    floats = pd.Series([2.0, 2.5, 1e20])  # vectorized path == element-wise path
    assert canonical(floats).tolist() == canonical(floats.astype(object)).tolist() == ["2", "2.5", "1e+20"]


def test_unparsable_synthetic_values_become_nulls_and_missing_columns_appear() -> None:
    assert coerce(pd.Series(["3", "abc", None]), Kind.NUMERIC).isna().tolist() == [False, True, True]
    assert coerce(pd.Series(["2020-01-02", "soon"]), Kind.DATETIME).isna().tolist() == [False, True]
    assert coerce(pd.Series(["yes", "N", "maybe"]), Kind.BOOLEAN).tolist() == [True, False, None]
    kinds = {"x": Kind.NUMERIC, "y": Kind.CATEGORICAL}
    out = align({"real": pd.DataFrame({"x": [1, 2], "y": ["a", "b"]}), "synthetic": pd.DataFrame({"x": ["1", "q"]}),
                 "none": None}, kinds)
    assert list(out["synthetic"].columns) == ["x", "y"] and out["synthetic"]["y"].isna().all()
    assert out["none"] is None
