"""Real-world spellings: inferred and declared, parsed by prepare, written back by generate; warnings, not damage."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd
import pytest

from safesynth.errors import BadInputError
from safesynth.generator import columns as generator_columns
from safesynth.metrics import columns as metric_columns
from safesynth.metrics.columns import Kind
from safesynth.schema import ColumnKind, TableSchema, coerce_to_schema, decimal_mark, infer_column, infer_schema
from safesynth.spec.models import ColumnDeclaration
from safesynth.tables import DELIMITER_ATTR, load_table
from safesynth.valueformats import NumberSpelling, render_number, render_table
from tests.workers.format_tables import KINDS, clean_csv, messy_csv, typed_rows

K = ColumnKind


def strings(values: list[Any], n: int = 200) -> pd.Series:
    return pd.Series([values[i % len(values)] for i in range(n)], dtype=object)


def read(data: bytes, name: str = "t.csv") -> tuple[pd.DataFrame, Any]:
    df = load_table(data, source=name)
    return df, infer_schema(df, delimiter=df.attrs.get(DELIMITER_ATTR))


def test_messy_export_reads_as_its_clean_twin() -> None:
    rows = typed_rows(300)
    messy, m_schema = read(messy_csv(rows))
    clean, c_schema = read(clean_csv(rows))
    assert m_schema.kinds() == c_schema.kinds() == KINDS
    typed_messy, typed_clean = coerce_to_schema(messy, m_schema), coerce_to_schema(clean, c_schema)
    pd.testing.assert_frame_equal(typed_messy, typed_clean)
    visit = m_schema.column("visit")
    assert {f.format for f in visit.formats or []} == {"%Y-%m-%d", "%d %b %Y", "%B %d, %Y"}
    assert sum(f.count for f in visit.formats or []) == 300 and not visit.unparsed_count
    assert (m_schema.column("income").thousands, m_schema.column("income").decimal) == (",", None)
    assert (m_schema.column("balance").thousands, m_schema.column("balance").decimal) == (".", ",")
    assert m_schema.column("rate").unit == "%" and m_schema.column("age").null_values == ["?"]
    assert m_schema.warnings == []


def test_synthetic_csv_is_written_in_the_source_spellings() -> None:
    rows = typed_rows(300)
    messy, schema = read(messy_csv(rows))
    typed = coerce_to_schema(messy, schema)
    written = render_table(typed, schema.to_json_dict(), seed=3)
    buf = io.StringIO()
    written.to_csv(buf, sep=";", index=False)
    again, again_schema = read(buf.getvalue().encode())
    assert again_schema.kinds() == KINDS
    for name in ("income", "balance", "rate"):
        a, b = schema.column(name), again_schema.column(name)
        assert (a.decimal, a.thousands, a.unit) == (b.decimal, b.thousands, b.unit), name
    assert {f.format for f in again_schema.column("visit").formats or []} == {
        f.format for f in schema.column("visit").formats or []}
    pd.testing.assert_frame_equal(coerce_to_schema(again, again_schema).drop(columns=["group"]),
                                  typed.drop(columns=["group"]))
    assert render_table(typed, schema.to_json_dict(), seed=3).equals(written)  # seeded


@pytest.mark.parametrize(("x", "spelling", "integral", "text"), [
    (12345, NumberSpelling(".", ","), True, "12,345"),
    (-1234.5, NumberSpelling(",", "."), False, "-1.234,5"),
    (1234567.25, NumberSpelling(",", " "), False, "1 234 567,25"),
    (12.5, NumberSpelling(",", None, "%"), False, "12,5%"),
    (-1234.5, NumberSpelling(".", ",", "$", True), False, "-$1,234.5"),
    (37.5, NumberSpelling(".", None, " downs"), False, "37.5 downs"),
    (999, NumberSpelling(".", ","), True, "999"),
])
def test_render_number(x: float, spelling: NumberSpelling, integral: bool, text: str) -> None:
    assert render_number(x, spelling, integral) == text


@pytest.mark.parametrize("token", ["?", "-", "N/A", "NULL", "null", "n/a", "--", "unknown"])
def test_null_tokens_are_nulls_in_number_columns(token: str) -> None:
    col = infer_column("age", strings(["34", token, "51", "47", " 23 "]))
    assert col.kind == K.INTEGER and col.null_count == 40 and col.null_values == [token]
    typed = coerce_to_schema(pd.DataFrame({"age": strings(["34", token, "51", "47", " 23 "])}),
                             infer_schema(pd.DataFrame({"age": strings(["34", token, "51", "47", " 23 "])})))
    assert typed["age"].isna().sum() == 40 and typed["age"].max() == 51


def test_null_tokens_stay_values_in_categorical_columns() -> None:
    col = infer_column("answer", strings(["yes please", "-", "no thanks", "?"]))
    assert col.kind == K.CATEGORICAL and col.null_count == 0 and {c.value for c in col.categories or []} >= {"-", "?"}


@pytest.mark.parametrize(("values", "decimal", "thousands", "unit", "kind"), [
    (["12,345", "850", "1,250,000"], None, ",", None, K.INTEGER),
    (["1.234,5", "12,75", "3"], ",", ".", None, K.FLOAT),
    (["3,14", "2,5", "10"], ",", None, None, K.FLOAT),
    (["45%", "12.5%", "100%", "0"], None, None, "%", K.FLOAT),
    (["1 234,5", "12,75", "300"], ",", " ", None, K.FLOAT),
    (["1'234.50", "99.95", "12"], None, "'", None, K.FLOAT),
    (["$1,234.50", "$99.95", "$12"], None, ",", "$", K.FLOAT),
    (["37.00 downs", "73.50 downs", "17 downs"], None, None, " downs", K.FLOAT),
    (["12kg", "70kg", "81kg"], None, None, "kg", K.INTEGER),
    (["5 €", "12,50 €", "3 €"], ",", None, " €", K.FLOAT),
])
def test_number_spellings(values: list[str], decimal: str | None, thousands: str | None, unit: str | None,
                          kind: ColumnKind) -> None:
    col = infer_column("x", strings(values))
    assert (col.kind, col.decimal, col.thousands, col.unit) == (kind, decimal, thousands, unit)


def test_european_thousands_in_a_decimal_comma_file() -> None:
    """`12.345` beside decimal commas (or in a ;-separated file) is twelve thousand, not twelve."""
    df = pd.DataFrame({"amount": strings(["12.345", "3.001", "7.250"]), "price": strings(["3,5", "12,75", "8"])})
    schema = infer_schema(df)
    typed = coerce_to_schema(df, schema)
    assert decimal_mark(df) == "," and list(typed["amount"][:3]) == [12345, 3001, 7250]
    alone = pd.DataFrame({"amount": strings(["12.345", "3.001", "7.250"])})
    assert coerce_to_schema(alone, infer_schema(alone))["amount"][0] == 12.345  # a point file: a decimal
    assert coerce_to_schema(alone, infer_schema(alone, delimiter=";"))["amount"][0] == 12345


def test_mixed_date_formats_parse_each_value() -> None:
    values = ["2021-03-04", "March 5, 2021", "6 Mar 2021", "2021-03-07", "07.03.2021"]
    col = infer_column("visit", strings(values))
    assert col.kind == K.DATETIME and len(col.formats or []) == 4 and not col.unparsed_count
    typed = coerce_to_schema(pd.DataFrame({"visit": strings(values, 5)}), infer_schema(
        pd.DataFrame({"visit": strings(values, 5)})))
    assert list(typed["visit"].dt.day) == [4, 5, 6, 7, 7]


def test_unparsed_values_are_counted_and_warned() -> None:
    df = pd.DataFrame({"d": strings(["2020-01-01"] * 97 + ["soon", "later", "n/k"], 100),
                       "n": strings([str(i) for i in range(97)] + ["lots", "x", "y"], 100)})
    schema = infer_schema(df)
    assert schema.column("d").kind == K.DATETIME and schema.column("d").unparsed_count == 3
    assert schema.column("n").kind == K.INTEGER and schema.column("n").unparsed_count == 3
    assert {(w.column, w.code, w.count) for w in schema.warnings} == {("d", "unparsed", 3), ("n", "unparsed", 3)}
    assert coerce_to_schema(df, schema)["n"].isna().sum() == 3


@pytest.mark.parametrize(("name", "values", "kind", "code"), [
    ("zip", ["02134", "00501", "10001", "94105"], K.CATEGORICAL, "leadingZeros"),
    ("code", [f"{i:06d}" for i in range(200)], K.IDENTIFIER, "leadingZeros"),
    ("card", [str(10**19 + i * 7919) for i in range(200)], K.IDENTIFIER, "longIntegers"),
    ("n", [str(i) for i in range(140)] + [f"w{i}" for i in range(60)], K.IDENTIFIER, "mostlyNumbers"),
    ("d", ["2020-01-01"] * 90 + [f"tbd{i}" for i in range(10)], K.CATEGORICAL, "mostlyDates"),
    ("patient_id", [str(1000 + i) for i in range(200)], K.IDENTIFIER, "idName"),
])
def test_fallbacks_from_numbers_or_dates_are_warnings(name: str, values: list[str], kind: ColumnKind,
                                                      code: str) -> None:
    schema = infer_schema(pd.DataFrame({name: strings(values)}))
    assert schema.column(name).kind == kind
    assert [(w.column, w.code) for w in schema.warnings] == [(name, code)]
    assert all(v not in w.model_dump_json() for w in schema.warnings for v in values[:3])


def test_identifier_only_for_unique_values_that_are_not_numbers_or_dates() -> None:
    df = pd.DataFrame({
        "income": strings([str(1000 + i) for i in range(200)]),
        "at": strings([f"2021-03-04T{i % 24:02d}:{i % 60:02d}:{i % 59:02d}" for i in range(200)]),
        "account_id": strings([str(i % 120) for i in range(200)]),  # ID-named but repeating: not an identifier
        "ref": strings([f"R-{i:05d}" for i in range(200)]),
    })
    assert infer_schema(df).kinds() == {"income": "integer", "at": "datetime", "account_id": "integer",
                                        "ref": "identifier"}


def test_day_first_and_month_first_in_one_column_is_flagged() -> None:
    schema = infer_schema(pd.DataFrame({"d": strings(["12/31/2020", "25/12/2020", "01/02/2021"])}))
    assert schema.column("d").kind == K.DATETIME and [w.code for w in schema.warnings] == ["ambiguousDayMonth"]


# ---------------------------------------------------------------- declared


def decl(**fields: Any) -> ColumnDeclaration:
    return ColumnDeclaration.model_validate(fields)


@pytest.mark.parametrize(("values", "declared", "kind", "check"), [
    (["02134", "00501", "10001"], {"kind": "integer"}, K.INTEGER, lambda s: s.iloc[0] == 2134),
    (["1", "2", "3"], {"kind": "categorical"}, K.CATEGORICAL, lambda s: s.iloc[0] == "1"),
    (["1", "2", "3"], {"kind": "text"}, K.TEXT, lambda s: s.iloc[2] == "3"),
    (["1", "2", "3"], {"kind": "float"}, K.FLOAT, lambda s: s.dtype == "float64"),
    (["a", "b", "c"], {"identifier": True}, K.IDENTIFIER, lambda s: s.iloc[0] == "a"),
    (["yes", "no", "maybe"], {"kind": "boolean"}, K.BOOLEAN, lambda s: s.isna().sum() > 0),
    (["04.03.21", "05.03.21", "x"], {"format": "%d.%m.%y"}, K.DATETIME, lambda s: s.iloc[0].month == 3),
    (["20210304", "20210305"], {"kind": "datetime", "format": "%Y%m%d"}, K.DATETIME, lambda s: s.iloc[1].day == 5),
    (["12.345", "3.001", "7.250"], {"decimal": ",", "thousands": "."}, K.INTEGER, lambda s: s.iloc[0] == 12345),
    (["12,345", "3,001", "7,250"], {"decimal": ","}, K.FLOAT, lambda s: s.iloc[0] == 12.345),
    (["34", "999", "51"], {"nullValues": ["999"]}, K.INTEGER, lambda s: s.isna().sum() > 0 and s.max() == 51),
    (["a", "NONE", "b"], {"nullValues": ["NONE"]}, K.CATEGORICAL, lambda s: s.isna().sum() > 0),
    ([f"u{i}" for i in range(200)], {"identifier": False}, K.TEXT, lambda s: s.iloc[0] == "u0"),
    (["2.5", "3.5", "4"], {"kind": "integer"}, K.INTEGER, lambda s: s.isna().sum() > 0 and s.max() == 4),
])
def test_declared_beats_inferred(values: list[str], declared: dict[str, Any], kind: ColumnKind, check: Any) -> None:
    df = pd.DataFrame({"c": strings(values)})
    schema = infer_schema(df, {"c": decl(**declared)})
    col = schema.column("c")
    assert col.kind == kind and col.declared is True
    assert check(coerce_to_schema(df, schema)["c"])


def test_declared_identifier_false_keeps_unique_integers_as_numbers() -> None:
    df = pd.DataFrame({"patient_id": pd.Series(np.arange(1000, 1200))})
    assert infer_schema(df).kinds() == {"patient_id": "identifier"}
    assert infer_schema(df, {"patient_id": decl(identifier=False)}).kinds() == {"patient_id": "integer"}


def test_declared_kind_on_a_typed_column() -> None:
    df = pd.DataFrame({"code": pd.Series([1, 2, 3] * 20)})
    schema = infer_schema(df, {"code": decl(kind="categorical")})
    assert schema.kinds() == {"code": "categorical"} and coerce_to_schema(df, schema)["code"].iloc[0] == "1"


def test_declaring_an_unknown_column_is_bad_input() -> None:
    with pytest.raises(BadInputError, match=r"spec\.data\.columns names 'nope'"):
        infer_schema(pd.DataFrame({"a": [1, 2]}), {"nope": decl(kind="integer")})


# ------------------------------------------------------------ one system


def test_generator_pii_and_metrics_agree_on_kinds_by_construction() -> None:
    """The 100-row table on which three inferences once said integer, text and categorical for one column."""
    rng = np.random.default_rng(1)
    df = pd.DataFrame({
        "score": strings([str(v) for v in rng.integers(0, 60, 99)] + ["?"], 100),
        "income": strings([f"{v:,}" for v in rng.integers(500, 90_000, 100)], 100),
        "visit": strings([f"2021-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(100)], 100),
        "note": strings([f"seen on day {i} with mild symptoms" for i in range(100)], 100),
        "group": strings(["a", "b"], 100),
    })
    schema = infer_schema(df).to_json_dict()
    decided = {c["name"]: c["kind"] for c in schema["columns"]}
    assert generator_columns.kinds_from_schema(schema) == decided == generator_columns.infer_kinds(df)
    coarse = {"integer": Kind.NUMERIC, "float": Kind.NUMERIC}
    expected = {c: coarse[k] if k in coarse else Kind(k) for c, k in decided.items()}
    assert TableSchema.from_json_dict(schema).kinds() == decided  # what the PII stage reads
    assert metric_columns.kinds_from_schema(schema) == expected == metric_columns.infer_kinds(df)
    assert decided["score"] == "integer" and decided["income"] == "integer"
