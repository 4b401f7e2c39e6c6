"""Row <-> fields <-> token ids round-trips every kind exactly; bad fields are named by reason."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from safesynth.generator import columns as C
from safesynth.generator import serialize as S
from safesynth.generator.tokenizer import train_bpe

FRAME = pd.DataFrame({
    "int": pd.Series([0, -7, 123456789012, 42], dtype="int64"),
    "int_null": pd.Series([1, None, 3, 4], dtype="Int64"),
    "flt": pd.Series([0.1, -0.5, 1e-7, 123456789.123456], dtype="float64"),
    "flt_big": pd.Series([1e20, np.nan, 2.5e-300, 3.0], dtype="float64"),
    "flt32": pd.Series([0.1, 1.5, -2.25, 3.3], dtype="float32"),
    "cat": pd.Series(["a", "b", None, "a"], dtype="string"),
    "cat_int": pd.Series([1, 2, 1, 3], dtype="int64"),
    "flag": pd.Series([True, False, True, True], dtype="bool"),
    "flag_null": pd.Series([True, None, False, True], dtype="boolean"),
    "day": pd.Series(pd.to_datetime(["2020-01-01", "1999-12-31", None, "2024-02-29"])),
    "stamp": pd.Series(pd.to_datetime(["2020-01-01 10:11:12.5", "2021-06-01 00:00:01", "2022-03-04 23:59:59",
                                       "2023-01-01 00:00:00"], format="ISO8601")),
    "stamp_tz": pd.Series(pd.to_datetime(["2020-01-01T10:00:00+00:00", "2021-06-01T00:00:01+00:00", None,
                                          "2023-01-01T00:00:00+00:00"], utc=True)),
    "date_text": pd.Series(["01/02/2020", "12/31/1999", None, "07/04/2021"], dtype="string"),
    "text": pd.Series(['say "hi"\nbye', "", "unicode: é ☕ 𝄞 <sep> \\N", None], dtype="string"),
})
KINDS = {"int": "integer", "int_null": "integer", "flt": "float", "flt_big": "float", "flt32": "float",
         "cat": "categorical", "cat_int": "categorical", "flag": "boolean", "flag_null": "boolean", "day": "datetime",
         "stamp": "datetime", "stamp_tz": "datetime", "date_text": "datetime", "text": "text"}


def roundtrip(df: pd.DataFrame) -> pd.DataFrame:
    cols = C.describe_columns(df, KINDS)
    for c in cols:
        c.categories = None  # rare-category filtering is the validator's business, not serialization's
    fields = S.frame_to_fields(df, cols)
    tok = train_bpe((f for row in fields for f in row if f is not None), vocab_size=300)
    ids = tok.encode_rows(fields)
    back = [tok.decode_row(r, len(cols)) for r in ids]
    assert back == fields
    values = [[S.from_field(f, c) for f, c in zip(row, cols)] for row in back]
    return S.values_to_frame(values, cols)


def test_every_kind_round_trips_exactly_with_its_dtype() -> None:
    out = roundtrip(FRAME)
    pd.testing.assert_frame_equal(out, FRAME, check_exact=True)


@pytest.mark.parametrize(("value", "text"), [
    (0.1, "0.1"), (3.0, "3"), (-0.5, "-0.5"), (1e-7, "1e-07"), (1e20, "1e+20"), (123.456, "123.456"),
    (50123.45, "50123.45"), (1e15, "1000000000000000"),
])
def test_floats_are_written_shortest_and_positional_in_range(value: float, text: str) -> None:
    assert S.float_text(value) == text
    assert float(text) == value


@pytest.mark.parametrize(("kind", "dtype", "style", "field"), [
    ("integer", "int64", "", "1.5"), ("integer", "int64", "", "12a"), ("float", "float64", "", "1..2"),
    ("float", "float64", "", "nan"), ("boolean", "bool", "", "yes"), ("datetime", "datetime64[ns]", "date", "2020-02-30"),
    ("datetime", "datetime64[ns]", "date", "2020-01-01T10:00"),
    ("datetime", "datetime64[ns]", "iso", "2020-01-01T10:00:00+00:00"),
    ("datetime", "datetime64[ns, UTC]", "iso", "2020-01-01T10:00:00"),
])
def test_fields_that_do_not_read_as_their_kind_fail_with_type(kind: str, dtype: str, style: str, field: str) -> None:
    col = C.ColumnInfo("c", kind, dtype, nullable=True, style=style)
    with pytest.raises(S.FieldError) as info:
        S.from_field(field, col)
    assert info.value.reason == "type" and field not in str(info.value)


def test_null_in_a_column_without_nulls_fails_with_null() -> None:
    with pytest.raises(S.FieldError, match="null"):
        S.from_field(None, C.ColumnInfo("c", "integer", "int64", nullable=False))
