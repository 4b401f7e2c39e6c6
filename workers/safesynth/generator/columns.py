"""Where each column's `ColumnInfo` comes from: prepare's schema and, without DP, the training rows.

`kinds_from_schema` is the only function that reads the schema JSON written by
the prepare / pii stages; everything else works from `ColumnInfo`. The kinds
are prepare's decision (`safesynth.schema`); nothing here infers them again. Without DP
categories and bounds come from the training rows (`describe_columns`); with
DP they must not (see `safesynth.generator.dp.dp_safe_columns`).

`ColumnInfo` itself and its helpers live in `column_info` (below `serialize`,
which `describe_columns` uses to spell categories) and are re-exported here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Optional

from safesynth.errors import BadInputError
from safesynth.generator import identifiers, serialize
from safesynth.generator.column_info import (
    DATE,
    ISO,
    KINDS,
    MODELED_KINDS,
    NUMERIC_KINDS,
    TEXT,
    ColumnInfo,
    columns_from_json,
    columns_to_json,
    epoch_seconds,
    parse_datetime,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DATE", "ISO", "KINDS", "MIN_CATEGORY_ROWS", "MODELED_KINDS", "NUMERIC_KINDS", "TEXT", "ColumnInfo",
    "columns_from_json", "columns_to_json", "datetime_style", "describe_columns", "epoch_seconds", "infer_kinds",
    "kinds_from_schema", "max_decimals", "parse_datetime",
]

# Categories held by fewer training rows are never generated: they could single someone out. The same
# threshold as prepare's schema, which never lists them (safesynth.schema.MIN_CATEGORY_COUNT).
MIN_CATEGORY_ROWS = 5


def kinds_from_schema(schema: dict[str, Any]) -> dict[str, str]:
    """Column name -> kind, from prepare's (or pii's) schema.json.

    Accepts the column list either as a list of objects with `name` and `kind`
    or as a mapping name -> object with `kind`. Unknown kinds are input errors.
    """
    cols = schema.get("columns", schema)
    if isinstance(cols, dict):
        items = [(str(name), (v or {}).get("kind")) for name, v in cols.items()]
    elif isinstance(cols, list):
        items = [(str(c.get("name")), c.get("kind")) for c in cols if isinstance(c, dict)]
    else:
        raise BadInputError("schema.json: 'columns' must be a list or a mapping; re-run the prepare stage")
    out: dict[str, str] = {}
    for name, given in items:
        kind = getattr(given, "value", given)
        if kind not in KINDS:
            raise BadInputError(f"schema.json: column {name!r} has unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
        out[name] = str(kind)
    return out


def infer_kinds(df: "pd.DataFrame") -> dict[str, str]:
    """Kinds for a table that comes without schema.json (tests, ad-hoc tables): prepare's own rules, run here.

    Never a second set of rules: the same `safesynth.schema.infer_schema`
    prepare runs, so a table gets the same kinds with or without the stage.
    """
    from safesynth.schema import infer_schema

    return kinds_from_schema(infer_schema(df).to_json_dict())


def datetime_style(series: "pd.Series") -> str:
    """date when every pandas datetime is at midnight, iso otherwise; text for string columns."""
    import pandas as pd

    if not pd.api.types.is_datetime64_any_dtype(series):
        return TEXT
    s = series.dropna()
    return DATE if len(s) == 0 or bool((s == s.dt.normalize()).all()) else ISO


def describe_columns(df: "pd.DataFrame", kinds: dict[str, str]) -> list[ColumnInfo]:
    """ColumnInfo per column from the training rows: categories and bounds are the observed ones.

    Categories held by fewer than MIN_CATEGORY_ROWS rows are left out (unless
    none is that frequent). Not DP-safe: categories and the exact min/max come
    from the data; with DP on use `dp.dp_safe_columns`.
    """
    import pandas as pd

    missing = [c for c in df.columns if c not in kinds]
    if missing:
        raise BadInputError(f"schema.json lacks {len(missing)} column(s) of the training table, e.g. {missing[0]!r}; "
                            "re-run the prepare stage")
    cols = []
    for name in df.columns:
        s = df[name]
        col = ColumnInfo(name=str(name), kind=kinds[name], dtype=str(s.dtype), nullable=bool(s.isna().any()))
        if col.kind == "datetime":
            col.style = datetime_style(s)
        values = s.dropna()
        if col.kind in ("categorical", "boolean"):
            counts = pd.Series([serialize.to_field(v, col) for v in values.tolist()], dtype=object).value_counts()
            frequent = counts[counts >= MIN_CATEGORY_ROWS]
            col.categories = sorted(str(v) for v in (frequent if len(frequent) else counts).index)
            col.extra["rareCategories"] = int(len(counts) - len(frequent)) if len(frequent) else 0
        elif col.kind in NUMERIC_KINDS and len(values):
            col.minimum, col.maximum = float(values.min()), float(values.max())
            if col.kind == "float":
                col.extra["decimals"] = max_decimals(serialize.to_field(v, col) for v in values.tolist())
        elif col.kind == "datetime" and len(values):
            stamps = pd.to_datetime(values.astype(str), format="mixed", errors="coerce", utc=True).dropna()
            if len(stamps):
                col.minimum, col.maximum = epoch_seconds(stamps.min()), epoch_seconds(stamps.max())
        elif col.kind == "identifier":
            col.style = identifiers.template([str(v) for v in values])
        cols.append(col)
    return cols


def max_decimals(fields: Iterable[Optional[str]]) -> Optional[int]:
    """Most digits after the point among positional spellings; None when a value is written with an exponent."""
    most = 0
    for f in fields:
        if f is None:
            continue
        if "e" in f:
            return None
        if "." in f:
            most = max(most, len(f) - f.index(".") - 1)
    return most
