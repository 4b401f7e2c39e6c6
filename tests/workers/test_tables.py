"""safesynth.tables: faithful loading of CSV/Parquet/JSONL, and errors that say where without saying what."""

from __future__ import annotations

import gzip
import io
import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from safesynth.errors import BadInputError
from safesynth.tables import check_columns, detect_format, load_table

SENTINEL = "ZEBRA-9931"


def parquet_bytes(df: pd.DataFrame, **kw: object) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf, engine="pyarrow", **kw)
    return buf.getvalue()


def arrow_parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def load_error(data: bytes, source: str, fmt: str = "auto") -> str:
    with pytest.raises(BadInputError) as info:
        load_table(data, source=source, fmt=fmt)
    assert info.value.exit_code == 2
    message = str(info.value)
    assert source in message, "every message names the file"
    return message


# ------------------------------------------------------------------ bad input

BAD_INPUTS = [
    # (id, source, data, fragments the message must contain)
    ("zero-bytes", "t.csv", b"", ["empty"]),
    ("whitespace-only", "t.csv", b"  \n\r\n\t", ["empty"]),
    ("bom-only", "t.csv", b"\xef\xbb\xbf", ["empty"]),
    ("empty-jsonl", "t.jsonl", b"\n\n", ["empty"]),
    ("empty-parquet", "t.parquet", b"", ["empty"]),
    ("header-no-rows", "t.csv", b"a,b,c\n", ["has a header but no rows", "3 columns"]),
    ("header-no-rows-blank-lines", "t.csv", b"a,b\n\n\n", ["has a header but no rows"]),
    ("numeric-header", "t.csv", b"1,2.5,3\n4,5,6\n", ["first row looks like data", "add a header row", "line 1"]),
    ("date-header", "t.csv", b"2020-01-01,7\n2020-01-02,8\n", ["first row looks like data"]),
    ("duplicate-names", "t.csv", b"id,age,age\n1,2,3\n", ["duplicate column names", "'age' (2 times)"]),
    ("empty-name", "t.csv", b"id,,age\n1,2,3\n", ["column 2", "empty name"]),
    ("blank-name", "t.csv", b"id,   ,age\n1,2,3\n", ["column 2", "empty name"]),
    ("trailing-delimiter", "t.csv", b"id,age,\n1,2,\n", ["column 3", "trailing delimiter"]),
    ("latin1", "t.csv", "name,city\nAnn,Paris\nBob,K\xf6ln\n".encode("latin-1"),
     ["not valid UTF-8", "byte offset 25", "line 3", "column 'city'", "re-save", "UTF-8"]),
    ("latin1-header", "t.csv", "na\xefve,b\n1,2\n".encode("latin-1"), ["not valid UTF-8", "line 1"]),
    ("utf16", "t.csv", "a,b\n1,2\n".encode("utf-16"), ["UTF-16", "UTF-8"]),
    ("ragged-row", "t.csv", b"a,b\n1,2\n3,4,5\n6,7\n", ["line 3", "3 fields", "2 columns"]),
    ("ragged-every-row", "t.csv", b"a,b\n1,2,3\n4,5,6\n", ["line 2", "3 fields"]),
    ("ragged-after-quoted-newline", "t.csv", b'a,b\n1,"x\ny"\n3,4,5\n', ["line 4"]),
    ("unclosed-quote", "t.csv", b'a,b\n1,2\n3,"4\n5,6\n', ["line 3", "quot"]),
    ("csv-is-parquet", "t.csv", parquet_bytes(pd.DataFrame({"a": [1]})), ["not a CSV file", "Parquet"]),
    ("csv-is-gzip", "t.csv", gzip.compress(b"a,b\n1,2\n"), ["gzip", ".csv.gz"]),
    ("csv-is-xlsx", "t.csv", b"PK\x03\x04" + b"\x00" * 40, ["ZIP", "xlsx"]),
    ("csv-is-binary", "t.csv", b"a,b\n1,\x00\x01\n", ["binary", "line 2"]),
    ("gz-not-gzip", "t.csv.gz", b"a,b\n1,2\n", ["not gzip-compressed"]),
    ("gz-truncated", "t.csv.gz", gzip.compress(b"a,b\n1,2\n" * 100)[:30], ["damaged or truncated"]),
    ("parquet-is-csv", "t.parquet", b"a,b\n1,2\n", ["not a Parquet file", "text"]),
    ("parquet-is-jsonl", "t.parquet", b'{"a": 1}\n', ["not a Parquet file", "JSON"]),
    ("parquet-truncated", "t.parquet", b"PAR1" + b"\x00" * 16 + b"PAR1", ["damaged"]),
    ("jsonl-bad-line", "t.jsonl", b'{"a": 1}\n{"a": 2,}\n', ["line 2", "not valid JSON"]),
    ("jsonl-array-line", "t.jsonl", b'{"a": 1}\n\n[1, 2]\n', ["line 3", "array", "not a JSON object"]),
    ("jsonl-scalar-line", "t.jsonl", b'{"a": 1}\n42\n', ["line 2", "a number"]),
    ("jsonl-is-json-array", "t.jsonl", b'[{"a": 1}, {"a": 2}]', ["JSON array, not JSON Lines"]),
    ("jsonl-is-csv", "t.jsonl", b"a,b\n1,2\n", ["line 1", "not valid JSON"]),
    ("jsonl-nested", "t.jsonl", b'{"a": 1, "b": {"c": 2}}\n', ["column 'b'", "line 1", "nested object"]),
    ("jsonl-duplicate-key", "t.jsonl", b'{"a": 1}\n{"a": 1, "a": 2}\n', ["line 2", "'a'", "more than once"]),
    ("jsonl-empty-key", "t.jsonl", b'{"a": 1, "": 2}\n', ["column 2", "empty name"]),
    ("jsonl-no-columns", "t.jsonl", b"{}\n{}\n", ["no columns"]),
    ("jsonl-latin1", "t.jsonl", '{"a": "\xe9"}\n'.encode("latin-1"), ["not valid UTF-8", "line 1"]),
    ("unknown-extension", "t.xlsx", b"a,b\n1,2\n", ["spec.data.format", "cannot tell the file format"]),
    ("json-is-not-jsonl", "s3://bucket/t.json", b'{"a": 1}\n', ["spec.data.format"]),
]


@pytest.mark.parametrize(("source", "data", "fragments"), [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_is_a_clear_error(source: str, data: bytes, fragments: list[str]) -> None:
    message = load_error(data, source)
    for fragment in fragments:
        assert fragment in message


def test_unknown_format_value() -> None:
    assert "csv, parquet, jsonl" in load_error(b"a\n1\n", "t.csv", fmt="xlsx")


def test_parquet_duplicate_and_nested_columns() -> None:
    dup = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["x", "x"])
    assert "'x' (2 times)" in load_error(arrow_parquet_bytes(dup), "t.parquet")
    nested = pa.table({"a": [1], "tags": pa.array([["u", "v"]])})
    assert "column 'tags'" in load_error(arrow_parquet_bytes(nested), "t.parquet")
    binary = pa.table({"blob": pa.array([b"\x00"], type=pa.binary())})
    assert "column 'blob'" in load_error(arrow_parquet_bytes(binary), "t.parquet")


def test_parquet_without_rows() -> None:
    empty = parquet_bytes(pd.DataFrame({"a": pd.Series([], dtype="int64")}))
    assert "has a header but no rows" in load_error(empty, "t.parquet")


# Each input hides the sentinel in the cells around the problem; no message may repeat it.
LEAKY = [
    ("t.csv", f"name,note\nAnn,{SENTINEL}\n{SENTINEL},{SENTINEL},x\n".encode()),
    ("t.csv", f"name,note\n{SENTINEL},\"{SENTINEL}\n".encode()),
    ("t.csv", f"name,city\n{SENTINEL},K\xf6ln {SENTINEL}\n".encode("latin-1")),
    ("t.csv", b"1234,5678\n1,2\n"),  # the "header" is data: its cells must not be echoed either
    ("t.csv", f"name\n{SENTINEL}\x00\n".encode()),
    ("t.jsonl", f'{{"name": "{SENTINEL}"}}\n{{"name": "{SENTINEL}",}}\n'.encode()),
    ("t.jsonl", f'{{"name": {{"first": "{SENTINEL}"}}}}\n'.encode()),
    ("t.jsonl", f'"{SENTINEL}"\n'.encode()),
    ("t.jsonl", f'{{"name": "{SENTINEL}", "name": "{SENTINEL}"}}\n'.encode()),
    ("t.parquet", f"name\n{SENTINEL}\n".encode()),
]


@pytest.mark.parametrize(("source", "data"), LEAKY)
def test_errors_never_repeat_data_values(source: str, data: bytes) -> None:
    message = load_error(data, source)
    assert SENTINEL not in message and "1234" not in message and "5678" not in message


def test_check_columns_on_dataframes() -> None:
    for df, fragment in [
        (pd.DataFrame(), "no columns"),
        (pd.DataFrame({"a": pd.Series([], dtype="float64")}), "no rows"),
        (pd.DataFrame([[1, 2]], columns=["a", "a"]), "'a' (2 times)"),
        (pd.DataFrame([[1, 2]], columns=["a", " "]), "column 2"),
        (pd.DataFrame([[1, 2]], columns=["a", 7]), "column 2"),
    ]:
        with pytest.raises(BadInputError, match=r"src\.parquet") as info:
            check_columns(df, "src.parquet")
        assert fragment in str(info.value)
    check_columns(pd.DataFrame({"a": [1]}), "ok.parquet")


# ------------------------------------------------------------------ formats


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("t.csv", "csv"),
        ("T.CSV", "csv"),
        ("dir/t.tsv", "csv"),
        ("s3://b/k/t.csv.gz", "csv"),
        ("t.parquet", "parquet"),
        ("file:///x/t.pq", "parquet"),
        ("t.jsonl", "jsonl"),
        ("t.ndjson", "jsonl"),
        ("t.json-lines", "jsonl"),
        ("https://h/t.jsonl?version=3", "jsonl"),
        ("t.json", None),
        ("t.xlsx", None),
        ("t", None),
    ],
)
def test_detect_format(source: str, expected: str | None) -> None:
    assert detect_format(source) == expected


def test_explicit_format_overrides_the_extension() -> None:
    df = load_table(b'{"a": 1}\n{"a": 2}\n', source="s3://bucket/export", fmt="jsonl")
    assert df["a"].tolist() == [1, 2]
    df = load_table(b"a,b\n1,2\n", source="s3://bucket/export.txt", fmt="csv")
    assert list(df.columns) == ["a", "b"]


# ------------------------------------------------------------------ round trips


def test_csv_keeps_quotes_newlines_unicode_and_nulls() -> None:
    original = pd.DataFrame(
        {
            "name": ['O"Brien, Ann', "Zoë Ångström", "李雷", None],
            "note": ["line one\nline two", 'said "hi"', "", "emoji 🎉"],
            "zip": ["00501", "02134", None, "10001"],
        }
    )
    raw = original.to_csv(index=False).encode("utf-8")
    df = load_table(raw, source="t.csv")
    assert list(df.columns) == ["name", "note", "zip"]
    assert df["name"].tolist()[:3] == ['O"Brien, Ann', "Zoë Ångström", "李雷"]
    assert df["note"].tolist()[0] == "line one\nline two" and df["note"].tolist()[3] == "emoji 🎉"
    assert df["zip"].tolist()[:2] == ["00501", "02134"], "leading zeros survive: cells are read as text"
    assert df["name"].isna().tolist() == [False, False, False, True]
    assert pd.isna(df.loc[2, "note"]) and pd.isna(df.loc[2, "zip"]), "empty cells are nulls"


@pytest.mark.parametrize("token", ["", "NA", "N/A", "null", "NULL", "NaN", "None"])
def test_csv_null_spellings(token: str) -> None:
    df = load_table(f"a,b\n1,{token}\n2,x\n".encode(), source="t.csv")
    assert pd.isna(df.loc[0, "b"]) and df.loc[1, "b"] == "x"


def test_csv_variants_bom_crlf_tsv_gzip_semicolon() -> None:
    expected = {"a": ["1", "3"], "b": ["x", "y z"]}
    for source, raw in [
        ("bom.csv", b"\xef\xbb\xbfa,b\r\n1,x\r\n3,y z\r\n"),
        ("t.tsv", b"a\tb\n1\tx\n3\ty z\n"),
        ("t.csv.gz", gzip.compress(b"a,b\n1,x\n3,y z\n")),
        ("semi.csv", b"a;b\n1;x\n3;y z\n"),
        ("leading-blank.csv", b"\n\na,b\n1,x\n\n3,y z\n"),
    ]:
        df = load_table(raw, source=source)
        assert df.to_dict("list") == expected, source
        assert isinstance(df.index, pd.RangeIndex)


def test_csv_rows_with_missing_trailing_fields_are_nulls() -> None:
    df = load_table(b"a,b,c\n1,2\n4,5,6\n", source="t.csv")
    assert pd.isna(df.loc[0, "c"]) and df.loc[1, "c"] == "6"


def test_csv_long_cells() -> None:
    long = "w " * 100_000
    df = load_table(f'a,b\n1,"{long}"\n'.encode(), source="t.csv")
    assert df.loc[0, "b"] == long


def test_parquet_round_trip_keeps_types() -> None:
    original = pd.DataFrame(
        {
            "i": pd.array([1, None, 3], dtype="Int64"),
            "f": [0.5, None, 2.0],
            "s": ["a", None, "c"],
            "b": [True, False, True],
            "t": pd.to_datetime(["2020-01-01", None, "2021-06-30"]),
        }
    )
    df = load_table(parquet_bytes(original, index=False), source="t.parquet")
    assert df["i"].dtype == "Int64" and df["i"].tolist()[0] == 1 and pd.isna(df["i"][1])
    assert df["f"].dtype == "float64" and df["b"].dtype == bool
    assert pd.api.types.is_datetime64_any_dtype(df["t"])
    assert df["s"].tolist()[0] == "a" and pd.isna(df["s"][1])


def test_parquet_dates_decimals_and_named_index() -> None:
    import datetime as dt
    import decimal

    table = pa.table(
        {
            "d": pa.array([dt.date(2020, 1, 2), None], type=pa.date32()),
            "amount": pa.array([decimal.Decimal("1.25"), decimal.Decimal("3.50")], type=pa.decimal128(10, 2)),
        }
    )
    df = load_table(arrow_parquet_bytes(table), source="t.parquet")
    assert pd.api.types.is_datetime64_any_dtype(df["d"]) and df["amount"].tolist() == [1.25, 3.5]
    indexed = pd.DataFrame({"v": [1, 2]}, index=pd.Index(["r1", "r2"], name="key"))
    df = load_table(parquet_bytes(indexed), source="t.parquet")
    assert list(df.columns) == ["key", "v"] and isinstance(df.index, pd.RangeIndex)


def test_jsonl_round_trip() -> None:
    lines = [
        {"id": 1, "name": "Ann", "score": 1.5, "ok": True, "big": 2**70},
        {"id": 2, "name": None, "score": 2, "ok": False},
        {"id": 3, "score": None, "extra": "late column", "big": 5},
    ]
    raw = ("\n".join(json.dumps(x) for x in lines) + "\n\n").encode()
    df = load_table(raw, source="t.ndjson")
    assert list(df.columns) == ["id", "name", "score", "ok", "big", "extra"]
    assert df["id"].dtype == "int64" and df["score"].dtype == "float64"
    assert df["ok"].dtype == "boolean" and pd.isna(df["ok"][2])
    assert df["big"].tolist()[0] == 2**70, "integers beyond int64 are kept exactly"
    assert df["extra"].isna().tolist() == [True, True, False]
    assert pd.isna(df["name"][1]) and pd.isna(df["name"][2])


def test_jsonl_gzip_and_crlf() -> None:
    df = load_table(gzip.compress(b'{"a": "x"}\r\n{"a": "y"}\r\n'), source="t.jsonl.gz")
    assert df["a"].tolist() == ["x", "y"]


def test_same_bytes_same_table() -> None:
    raw = b"a,b\n1,x\n2,y\n"
    pd.testing.assert_frame_equal(load_table(raw, source="t.csv"), load_table(raw, source="t.csv"))
