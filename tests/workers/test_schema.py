"""safesynth.schema: explicit kind rules, statistics that do not leak values, typed coercion."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from safesynth.schema import (
    CATEGORICAL_MAX_UNIQUE,
    MIN_CATEGORY_COUNT,
    ColumnKind,
    TableSchema,
    coerce_to_schema,
    infer_column,
    infer_schema,
)
from safesynth.tables import load_table

N = 200
RNG = np.random.default_rng(7)


def strings(values: list[Any]) -> pd.Series:
    """A column as the CSV loader returns it: text, with None for nulls."""
    return pd.Series(values, dtype=object)


def cycle(values: list[Any], n: int = N) -> list[Any]:
    return [values[i % len(values)] for i in range(n)]


K = ColumnKind
KIND_CASES: list[tuple[str, str, pd.Series, ColumnKind]] = [
    # (id, column name, values, expected kind)
    ("all-null", "x", strings([None] * 10), K.EMPTY),
    ("blank-strings", "x", strings(["", "  ", None] * 5), K.EMPTY),
    ("int-strings", "age", strings([str(i % 90) for i in range(N)]), K.INTEGER),
    ("int-strings-with-nulls", "age", strings([None if i % 7 == 0 else str(i) for i in range(N)]), K.INTEGER),
    ("negative-and-plus", "delta", strings(cycle(["-3", "+4", "5", "-12"])), K.INTEGER),
    ("ints-written-as-floats", "n", strings(cycle(["1.0", "2.0", "30.0", None])), K.INTEGER),
    ("float-strings", "income", strings([f"{x:.2f}" for x in RNG.normal(100, 10, N)]), K.FLOAT),
    ("scientific", "v", strings(cycle(["1e-3", "2.5E4", ".5"])), K.FLOAT),
    ("int64-dtype", "age", pd.Series(RNG.integers(0, 99, N)), K.INTEGER),
    ("float-with-nan-integral", "age", pd.Series(cycle([1.0, np.nan, 3.0, 7.0])), K.INTEGER),
    ("Int64-dtype", "age", pd.Series(cycle([1, None, 5]), dtype="Int64"), K.INTEGER),
    ("float-dtype", "x", pd.Series(RNG.normal(size=N)), K.FLOAT),
    ("float-with-inf", "x", pd.Series(cycle([1.0, np.inf, 2.0])), K.FLOAT),
    ("leading-zero-zip", "zip", strings(cycle(["02134", "00501", "10001", "94105"])), K.CATEGORICAL),
    ("leading-zero-unique", "code", strings([f"{i:06d}" for i in range(N)]), K.IDENTIFIER),
    ("too-many-digits", "card", strings([str(10**19 + i * 7919) for i in range(N)]), K.IDENTIFIER),
    ("thousands-separator", "x", strings(cycle(["1,234", "12", "5,000,000"])), K.INTEGER),
    ("yes-no", "smoker", strings(cycle(["yes", "no", None])), K.BOOLEAN),
    ("true-false-cased", "flag", strings(cycle(["True", "false", "TRUE"])), K.BOOLEAN),
    ("many-spellings-of-yes", "flag", strings(cycle(["Yes", "yes", "YES", "no"])), K.BOOLEAN),
    ("y-n", "flag", strings(cycle(["Y", "N"])), K.BOOLEAN),
    ("t-f", "flag", strings(cycle(["t", "f"])), K.BOOLEAN),
    ("zero-one-strings", "flag", strings(cycle(["0", "1"])), K.BOOLEAN),
    ("zero-one-ints", "flag", pd.Series(cycle([0, 1, 1])), K.BOOLEAN),
    ("bool-dtype", "flag", pd.Series(cycle([True, False])), K.BOOLEAN),
    ("nullable-boolean", "flag", pd.Series(cycle([True, None]), dtype="boolean"), K.BOOLEAN),
    ("one-value-only", "flag", strings(["yes"] * 20), K.CATEGORICAL),
    ("three-bool-words", "x", strings(cycle(["yes", "no", "maybe"])), K.CATEGORICAL),
    ("zero-one-two", "kids", strings(cycle(["0", "1", "2"])), K.INTEGER),
    ("iso-dates", "visit", strings([f"2020-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(N)]), K.DATETIME),
    ("iso-datetimes", "at", strings([f"2021-03-04T{i % 24:02d}:{i % 60:02d}:00" for i in range(N)]), K.DATETIME),
    ("iso-offsets", "at", strings(cycle(["2021-03-04T10:00:00Z", "2021-03-04T10:00:00+02:00"])), K.DATETIME),
    ("us-dates", "d", strings(cycle(["12/31/2020", "1/2/2021", "06/15/2019"])), K.DATETIME),
    ("eu-dates", "d", strings(cycle(["31/12/2020", "2/1/2021", "15/06/2019"])), K.DATETIME),
    ("dates-few-bad", "d", strings(["2020-01-01"] * 97 + ["soon", "later", "n/k"]), K.DATETIME),
    ("dates-many-bad", "d", strings(["2020-01-01"] * 90 + [f"tbd{i}" for i in range(10)]), K.CATEGORICAL),
    ("datetime64", "d", pd.Series(pd.date_range("2020-01-01", periods=N, freq="h")), K.DATETIME),
    ("categories", "group", strings(cycle(["a", "b", "c", None])), K.CATEGORICAL),
    ("categorical-dtype", "group", pd.Series(cycle(["a", "b"]), dtype="category"), K.CATEGORICAL),
    ("max-small-categories", "g", strings(cycle([f"g{i}" for i in range(CATEGORICAL_MAX_UNIQUE)], 30)), K.CATEGORICAL),
    ("mid-ratio-many-values", "g", strings(cycle([f"g{i}" for i in range(30)], 50)), K.IDENTIFIER),
    ("high-cardinality-low-ratio", "city", strings(cycle([f"c{i}" for i in range(300)], 2000)), K.CATEGORICAL),
    ("string-ids", "id", strings([f"R-{i:05d}" for i in range(N)]), K.IDENTIFIER),
    ("emails", "contact", strings([f"user{i}@example.com" for i in range(N)]), K.IDENTIFIER),
    ("names", "full_name", strings([f"First{i} Last{i * 3}" for i in range(N)]), K.IDENTIFIER),
    ("phones", "phone", strings([f"+1 555-{i:04d}" for i in range(N)]), K.IDENTIFIER),
    ("repeated-user-id", "user_id", strings(cycle([f"u{i}" for i in range(60)])), K.IDENTIFIER),
    ("int-id-column", "patientId", pd.Series(np.arange(1000, 1000 + N)), K.IDENTIFIER),
    ("int-unique-not-id", "income", pd.Series(np.arange(1000, 1000 + N)), K.INTEGER),
    ("small-code-named-id", "region_id", pd.Series(cycle([1, 2, 3, 4, 5])), K.INTEGER),
    ("paid-is-not-id", "paid", pd.Series(np.arange(N)), K.INTEGER),
    ("free-text", "note", strings([f"patient {i} reported mild symptoms after the visit" for i in range(N)]), K.TEXT),
    ("text-some-repeats", "note",
     strings([f"the quick brown fox number {i % 120} jumps" for i in range(N)]), K.TEXT),
    ("long-but-categorical", "answer",
     strings(cycle(["Strongly agree with the statement", "Somewhat disagree with the statement"])), K.CATEGORICAL),
    ("mixed-json-objects", "x", pd.Series(cycle([1, "a", 2.5]), dtype=object), K.CATEGORICAL),
]


@pytest.mark.parametrize(("name", "values", "kind"), [c[1:] for c in KIND_CASES], ids=[c[0] for c in KIND_CASES])
def test_kind(name: str, values: pd.Series, kind: ColumnKind) -> None:
    col = infer_column(name, values)
    assert col.kind == kind
    # Every inferred kind must coerce, and the recorded dtype is the one coercion produces.
    schema = TableSchema(n_rows=len(values), columns=[col])
    coerced = coerce_to_schema(pd.DataFrame({name: values}), schema)
    assert str(coerced[name].dtype) == col.dtype


def test_counts_and_numeric_stats() -> None:
    col = infer_column("age", strings(["30", None, "18", "", "99", "30"]))
    assert (col.kind, col.null_count, col.n_unique) == (K.INTEGER, 2, 3)
    assert col.null_fraction == pytest.approx(2 / 6)
    assert (col.min, col.max, col.all_integral) == (18, 99, True)
    assert isinstance(col.min, int)
    col = infer_column("x", pd.Series([0.5, -1.25, np.inf]))
    assert (col.min, col.max, col.all_integral) == (-1.25, 0.5, False)


def test_datetime_stats_and_format() -> None:
    col = infer_column("visit", strings(cycle(["2020-03-01", "2019-12-31", "2021-01-05", None])))
    assert (col.kind, col.format, col.min, col.max) == (K.DATETIME, "%Y-%m-%d", "2019-12-31", "2021-01-05")
    col = infer_column("at", strings(cycle(["2020-03-01 10:30:00", "2020-03-01 08:00:00"])))
    assert col.format == "%Y-%m-%d %H:%M:%S" and col.min == "2020-03-01T08:00:00"


def test_ambiguous_day_month_prefers_month_first_and_is_consistent() -> None:
    col = infer_column("d", strings(cycle(["01/02/2020", "03/04/2020"])))
    assert col.format == "%m/%d/%Y"
    # One day > 12 decides the whole column, not row by row.
    col = infer_column("d", strings(cycle(["01/02/2020", "25/04/2020"])))
    assert col.format == "%d/%m/%Y"


def test_categories_listed_with_counts_and_rare_ones_hidden() -> None:
    values = ["a"] * 50 + ["b"] * 30 + ["c"] * MIN_CATEGORY_COUNT + ["rare1"] * 2 + ["rare2"]
    col = infer_column("group", strings(values))
    assert col.kind == K.CATEGORICAL
    assert [(c.value, c.count) for c in col.categories or []] == [("a", 50), ("b", 30), ("c", MIN_CATEGORY_COUNT)]
    assert (col.rare_category_count, col.rare_row_count) == (2, 3)
    assert "rare1" not in json.dumps(col.model_dump(mode="json"))


def test_boolean_categories_and_tokens() -> None:
    col = infer_column("smoker", strings(["yes"] * 3 + ["no"] * 5 + [None]))
    assert [(c.value, c.count) for c in col.categories or []] == [("true", 3), ("false", 5)]
    assert (col.true_token, col.false_token, col.dtype) == ("yes", "no", "boolean")


def test_text_and_identifier_stats_never_hold_values() -> None:
    sentinel = "ZEBRA-9931"
    df = pd.DataFrame(
        {
            "email": strings([f"{sentinel}{i}@example.com" for i in range(N)]),
            "note": strings([f"{sentinel} wrote a long note about visit number {i}" for i in range(N)]),
        }
    )
    schema = infer_schema(df)
    assert [c.kind for c in schema.columns] == [K.IDENTIFIER, K.TEXT]
    assert sentinel not in json.dumps(schema.to_json_dict())
    note = schema.column("note")
    assert note.mean_words is not None and note.mean_words >= 8 and note.mean_chars and note.max_chars
    assert note.categories is None and note.min is None


def test_json_shape_and_round_trip() -> None:
    df = pd.DataFrame({"age": strings(["1", "2", None]), "group": strings(["a", "a", "b"]), "e": strings([None] * 3)})
    schema = infer_schema(df)
    data = schema.to_json_dict()
    assert json.loads(json.dumps(data)) == data
    assert set(data) == {"schema_version", "n_rows", "columns", "warnings"} and data["n_rows"] == 3
    age = data["columns"][0]
    assert age == {
        "name": "age", "kind": "integer", "dtype": "Int64", "source_dtype": age["source_dtype"], "null_count": 1,
        "null_fraction": pytest.approx(1 / 3), "n_unique": 2, "min": 1, "max": 2, "all_integral": True,
    }
    assert data["columns"][2] == {"name": "e", "kind": "empty", "dtype": "string", "source_dtype": "object",
                                  "null_count": 3, "null_fraction": 1.0, "n_unique": 0}
    assert TableSchema.from_json_dict(data) == schema


def test_same_input_same_schema() -> None:
    raw = "\n".join(["id,g,score,when"] + [f"{i},{'abc'[i % 3]},{i * 0.5},2020-01-{1 + i % 28:02d}"
                                              for i in range(300)]).encode()
    first = infer_schema(load_table(raw, source="t.csv")).to_json_dict()
    second = infer_schema(load_table(raw, source="t.csv")).to_json_dict()
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


def test_ties_between_categories_are_ordered_by_value() -> None:
    col = infer_column("g", strings(["b"] * 5 + ["a"] * 5 + ["c"] * 6))
    assert [c.value for c in col.categories or []] == ["c", "a", "b"]


# ------------------------------------------------------------------ coercion

CSV = "\n".join(
    ["zip,age,income,smoker,visit,at,group,note,id,flag,empty"]
    + [
        f'0{2100 + i % 3},{"" if i % 10 == 0 else 20 + i % 50},{1000 + i * 1.5},{"yes" if i % 3 else "no"},'
        f"2020-01-{1 + i % 28:02d},2020-01-01T00:00:{i % 60:02d}+01:00,{'xyz'[i % 3]},"
        f'"note {i}, written, with enough words",R{i},{i % 2},'
        for i in range(120)
    ]
).encode()


def test_coerce_gives_typed_columns_that_survive_parquet() -> None:
    df = load_table(CSV, source="t.csv")
    schema = infer_schema(df)
    kinds = {c.name: c.kind.value for c in schema.columns}
    assert kinds == {"zip": "categorical", "age": "integer", "income": "float", "smoker": "boolean",
                     "visit": "datetime", "at": "datetime", "group": "categorical", "note": "text",
                     "id": "identifier", "flag": "boolean", "empty": "empty"}
    typed = coerce_to_schema(df, schema)
    assert typed["zip"].tolist()[:3] == ["02100", "02101", "02102"], "leading zeros stay"
    assert str(typed["age"].dtype) == "Int64" and pd.isna(typed["age"][0]) and typed["age"][1] == 21
    assert typed["income"].dtype == "float64" and typed["smoker"].dtype == bool
    assert typed["smoker"].tolist()[:3] == [False, True, True]
    assert pd.api.types.is_datetime64_any_dtype(typed["visit"]) and typed["visit"][0] == pd.Timestamp("2020-01-01")
    assert str(typed["at"].dt.tz) == "UTC" and typed["at"][0] == pd.Timestamp("2019-12-31T23:00:00Z")
    assert str(typed["note"].dtype) == "string" and typed["flag"].dtype == bool
    assert [str(typed[c.name].dtype) for c in schema.columns] == [c.dtype for c in schema.columns]
    assert df["age"].dtype != typed["age"].dtype, "the input is not modified"

    buf = io.BytesIO()
    typed.to_parquet(buf, index=False)
    back = load_table(buf.getvalue(), source="train.parquet")
    assert str(back["age"].dtype) == "Int64" and back["smoker"].dtype == bool
    assert pd.api.types.is_datetime64_any_dtype(back["visit"]) and back["zip"].tolist()[0] == "02100"
    assert [c.kind for c in infer_schema(back).columns] == [c.kind for c in schema.columns], "kinds are stable"


def test_coerce_turns_unparsed_dates_and_blanks_into_nulls() -> None:
    df = pd.DataFrame({"d": strings(["2020-01-01"] * 97 + ["soon", " ", None]), "g": strings(["a", " "] * 50)})
    typed = coerce_to_schema(df, infer_schema(df))
    assert typed["d"].isna().sum() == 3 and typed["g"].isna().sum() == 50


def test_coerce_rejects_unknown_columns() -> None:
    schema = infer_schema(pd.DataFrame({"a": [1]}))
    with pytest.raises(ValueError, match="'b'"):
        coerce_to_schema(pd.DataFrame({"a": [1], "b": [2]}), schema)


def test_jsonl_typed_columns() -> None:
    raw = b"\n".join(json.dumps({"n": i, "ok": i % 2 == 0, "s": f"v{i % 3}"}).encode() for i in range(40))
    schema = infer_schema(load_table(raw, source="t.jsonl"))
    assert [c.kind for c in schema.columns] == [K.INTEGER, K.BOOLEAN, K.CATEGORICAL]
