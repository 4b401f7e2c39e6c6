"""Column kinds as the metrics see them, and the coercion that puts two tables on one footing.

Every metric picks its method by kind (a numeric column is binned, a
categorical one counted), so real, holdout and synthetic tables must agree on
each column's kind and dtype first. The kinds come from the pipeline's schema
(`prepare/schema.json`, `pii/schema.json`) when there is one; tables without
one (the standalone `safesynth evaluate` command) get them from the same rules,
`safesynth.schema.infer_schema`. `kinds_from_schema` is the one place the
schema's kinds become the metrics' coarser ones (integer and float: numeric). A synthetic column is coerced to the
real column's kind; values that do not parse become nulls, which the metrics
count (a generator that writes "abc" into a number column is penalised, not
crashed on).
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd


class Kind(str, Enum):
    """What a column holds, in the terms metrics care about."""

    NUMERIC = "numeric"
    DATETIME = "datetime"
    CATEGORICAL = "categorical"
    BOOLEAN = "boolean"
    TEXT = "text"
    IDENTIFIER = "identifier"
    EMPTY = "empty"


# safesynth.schema's kinds (prepare/schema.json) mapped to ours.
_SCHEMA_KINDS = {
    "integer": Kind.NUMERIC,
    "float": Kind.NUMERIC,
    "numeric": Kind.NUMERIC,
    "number": Kind.NUMERIC,
    "datetime": Kind.DATETIME,
    "date": Kind.DATETIME,
    "categorical": Kind.CATEGORICAL,
    "boolean": Kind.BOOLEAN,
    "text": Kind.TEXT,
    "identifier": Kind.IDENTIFIER,
    "id": Kind.IDENTIFIER,
    "empty": Kind.EMPTY,
}

TABULAR = (Kind.NUMERIC, Kind.DATETIME, Kind.CATEGORICAL, Kind.BOOLEAN)
CONTINUOUS = (Kind.NUMERIC, Kind.DATETIME)
DISCRETE = (Kind.CATEGORICAL, Kind.BOOLEAN)
NULL_TOKEN = "\u2205null"  # nulls as a category of their own; cannot collide with a real value's text

def kinds_from_schema(schema: Mapping[str, Any]) -> dict[str, Kind]:
    """Kinds from a schema.json, accepting a list of {name, kind} or a {name: {kind}} mapping."""
    columns = schema.get("columns", schema)
    entries: Iterable[tuple[str, Any]]
    if isinstance(columns, Mapping):
        entries = ((str(k), v.get("kind") if isinstance(v, Mapping) else v) for k, v in columns.items())
    else:
        entries = ((str(c.get("name")), c.get("kind")) for c in columns if isinstance(c, Mapping))
    out: dict[str, Kind] = {}
    for name, kind in entries:
        if name and kind is not None:
            out[name] = _SCHEMA_KINDS.get(str(kind).lower(), Kind.CATEGORICAL)
    return out


def infer_kind(values: pd.Series) -> Kind:
    """A column's kind from its values, by prepare's rules (`safesynth.schema`), for tables without a schema."""
    return infer_kinds(values.to_frame(name=str(values.name)))[str(values.name)]


def infer_kinds(df: pd.DataFrame) -> dict[str, Kind]:
    """Kinds for tables evaluated without a pipeline schema: prepare's own rules, never a second set."""
    from safesynth.schema import infer_schema

    return kinds_from_schema(infer_schema(df).to_json_dict())


def canonical(values: pd.Series) -> pd.Series:
    """Category labels as text, so 1, 1.0 and "1" are one category and nulls are NULL_TOKEN.

    Whole floats print as integers: a CSV round trip turns an integer column
    with nulls into floats, and that must not split its categories.
    """
    def label(v: Any) -> str:
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA or v is pd.NaT:
            return NULL_TOKEN
        if isinstance(v, (bool, np.bool_)):
            return "True" if v else "False"
        if isinstance(v, (float, np.floating)) and float(v).is_integer() and abs(float(v)) < 2**53:
            return str(int(v))
        return str(v)

    fast = _canonical_fast(values)
    if fast is not None:
        return fast
    if pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values):
        out = values.astype(object).where(values.notna(), NULL_TOKEN)
        return out.map(lambda v: v if isinstance(v, str) else label(v)).astype(str)
    return values.astype(object).map(label).astype(str)


def _canonical_fast(values: pd.Series) -> pd.Series | None:
    """Vectorized `canonical` for the common dtypes (same labels); None when the slow path is needed."""
    kind = pd.api.types.infer_dtype(values, skipna=False)
    if kind == "string" and not values.isna().any():  # StringDtype reports "string" even with <NA>
        return values.astype(str)
    if kind == "empty":
        return values.astype(str)
    if pd.api.types.is_bool_dtype(values) and not values.isna().any():
        return pd.Series(np.where(values.to_numpy(dtype=bool), "True", "False"), index=values.index)
    if pd.api.types.is_integer_dtype(values) and not values.isna().any():
        return values.astype(np.int64).astype(str)
    if pd.api.types.is_float_dtype(values) and values.dtype.kind == "f":
        x = values.to_numpy(dtype=float)
        null = np.isnan(x)
        whole = ~null & (x == np.floor(x)) & (np.abs(x) < 2**53)
        out = x.astype(str).astype(object)
        out[whole] = x[whole].astype(np.int64).astype(str)
        out[null] = NULL_TOKEN
        return pd.Series(out, index=values.index).astype(str)
    return None


_TRUE = {"true", "t", "yes", "y", "1", "1.0"}
_FALSE = {"false", "f", "no", "n", "0", "0.0"}


def coerce(values: pd.Series, kind: Kind) -> pd.Series:
    """`values` in the dtype every metric expects for `kind`; unparsable values become nulls."""
    if kind is Kind.NUMERIC:
        if pd.api.types.is_bool_dtype(values):
            return values.astype(float)
        return pd.to_numeric(values, errors="coerce").astype(float)
    if kind is Kind.DATETIME:
        if pd.api.types.is_datetime64_any_dtype(values):
            out = values
        else:
            out = pd.to_datetime(values, errors="coerce", format="mixed")
        if getattr(out.dt, "tz", None) is not None:
            out = out.dt.tz_convert("UTC").dt.tz_localize(None)
        return out.astype("datetime64[ns]")
    if kind is Kind.BOOLEAN:
        if pd.api.types.is_bool_dtype(values) and not values.isna().any():
            return values.astype(object)
        lowered = values.astype(object).map(lambda v: str(v).strip().lower() if pd.notna(v) else None)
        return lowered.map(lambda v: True if v in _TRUE else (False if v in _FALSE else None)).astype(object)
    if kind in (Kind.CATEGORICAL, Kind.TEXT, Kind.IDENTIFIER):
        return canonical(values).where(values.notna(), None).astype(object)
    return values


def align(tables: Mapping[str, pd.DataFrame | None], kinds: Mapping[str, Kind]) -> dict[str, pd.DataFrame | None]:
    """Every table restricted to the columns in `kinds`, each coerced to its kind.

    A column missing from a table is added as all nulls, so a generator that
    drops a column scores worst on it instead of vanishing from the report.
    """
    out: dict[str, pd.DataFrame | None] = {}
    for name, df in tables.items():
        if df is None:
            out[name] = None
            continue
        cols = {}
        for col, kind in kinds.items():
            series = df[col] if col in df.columns else pd.Series([None] * len(df), index=df.index, dtype=object)
            cols[col] = coerce(series.reset_index(drop=True), kind)
        out[name] = pd.DataFrame(cols)
    return out


def to_float(values: pd.Series) -> np.ndarray:
    """Numeric and datetime columns as float64 (datetimes in days since 1970), nulls as NaN."""
    if pd.api.types.is_datetime64_any_dtype(values):
        ns: np.ndarray = values.astype("int64").to_numpy().astype(float)
        ns[values.isna().to_numpy()] = np.nan
        return ns / 86_400e9
    numbers: np.ndarray = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    return numbers
