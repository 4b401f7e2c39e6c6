"""Reading prepare's schema.json and describing columns from training rows."""

from __future__ import annotations

import pandas as pd
import pytest

from safesynth.errors import BadInputError
from safesynth.generator import columns as C
from tests.workers.generator.helpers import KINDS, schema_json, tiny_table


def test_kinds_from_prepare_schema_list_and_mapping() -> None:
    df = tiny_table()
    assert C.kinds_from_schema(schema_json(df)) == KINDS
    assert C.kinds_from_schema({"columns": {"a": {"kind": "text"}}}) == {"a": "text"}


def test_unknown_kind_is_a_bad_input_naming_the_column() -> None:
    with pytest.raises(BadInputError, match=r"'a'.*'blob'"):
        C.kinds_from_schema({"columns": [{"name": "a", "kind": "blob"}]})


def test_the_real_schema_module_is_read() -> None:
    from safesynth.schema import coerce_to_schema, infer_schema

    raw = pd.DataFrame({"age": ["34", "51", "29"] * 10, "grp": ["x", "y", "x"] * 10})
    schema = infer_schema(raw)
    kinds = C.kinds_from_schema(schema.to_json_dict())
    assert kinds == {"age": "integer", "grp": "categorical"}
    cols = C.describe_columns(coerce_to_schema(raw, schema), kinds)
    assert [c.dtype for c in cols] == ["int64", "string"]


def test_describe_columns_bounds_styles_and_rare_categories() -> None:
    df = pd.DataFrame({
        "grp": pd.Series(["a"] * 10 + ["b"] * 5 + ["rare"] * 2, dtype="string"),
        "n": pd.Series(range(17), dtype="int64"),
        "d": pd.Series(pd.date_range("2020-01-01", periods=17, freq="D")),
        "t": pd.Series(pd.date_range("2020-01-01", periods=17, freq="h")),
    })
    cols = {c.name: c for c in C.describe_columns(df, {"grp": "categorical", "n": "integer", "d": "datetime",
                                                         "t": "datetime"})}
    assert cols["grp"].categories == ["a", "b"] and cols["grp"].extra["rareCategories"] == 1
    assert (cols["n"].minimum, cols["n"].maximum, cols["n"].nullable) == (0, 16, False)
    assert cols["d"].style == C.DATE and cols["t"].style == C.ISO
    assert cols["d"].minimum == pd.Timestamp("2020-01-01").timestamp()


def test_a_column_missing_from_the_schema_is_a_bad_input() -> None:
    with pytest.raises(BadInputError, match="re-run the prepare stage"):
        C.describe_columns(tiny_table(), {"age": "integer"})


def test_infer_kinds_without_a_schema() -> None:
    kinds = C.infer_kinds(tiny_table(200))
    assert kinds["age"] == "integer" and kinds["income"] == "float" and kinds["group"] == "categorical"
    assert kinds["visit"] == "datetime" and kinds["blank"] == "empty" and kinds["pid"] == "identifier"
