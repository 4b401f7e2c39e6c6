"""What the generator knows about each column, and the one reader of prepare's schema.

A `ColumnInfo` carries the column's kind (as prepare inferred it), the pandas
dtype to rebuild the output column with, and the constraints the sampler and
the validator enforce: allowed categories (as field strings) and numeric or
date bounds. Without DP these come from the training rows (`describe_columns`);
with DP they must not (see `safesynth.generator.dp.dp_safe_columns`).

`kinds_from_schema` is the only function that reads the schema JSON written by
the prepare / pii stages; everything else works from `ColumnInfo`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Optional

from safesynth.errors import BadInputError

if TYPE_CHECKING:
    import pandas as pd

KINDS = ("integer", "float", "categorical", "boolean", "datetime", "text", "identifier", "empty")
# Columns the language model writes; identifiers are made fresh and empty columns stay empty.
MODELED_KINDS = frozenset({"integer", "float", "categorical", "boolean", "datetime", "text"})
NUMERIC_KINDS = frozenset({"integer", "float"})
# Categories held by fewer training rows are never generated: they could single someone out. The same
# threshold as prepare's schema, which never lists them (safesynth.schema.MIN_CATEGORY_COUNT).
MIN_CATEGORY_ROWS = 5
# Datetime styles: pandas datetimes written as a date or as ISO 8601; "text" keeps the original strings.
DATE, ISO, TEXT = "date", "iso", "text"


@dataclass
class ColumnInfo:
    """One column as the generator sees it; JSON-able (it is stored with the model)."""

    name: str
    kind: str
    dtype: str = "object"
    nullable: bool = True
    categories: Optional[list[str]] = None  # allowed field strings (categorical, boolean)
    minimum: Optional[float] = None  # numbers; datetimes as seconds since the epoch (UTC)
    maximum: Optional[float] = None
    style: str = ""  # datetime: date | iso | text; identifier: a template (see identifiers.py)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def modeled(self) -> bool:
        return self.kind in MODELED_KINDS

    @property
    def bool_dtype(self) -> bool:
        return self.dtype in ("bool", "boolean")

    @property
    def tz_aware(self) -> bool:
        """A pandas datetime dtype with a time zone, e.g. "datetime64[ns, UTC]"."""
        return self.dtype.startswith("datetime64") and "," in self.dtype

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> "ColumnInfo":
        return cls(**obj)


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
    for name, kind in items:
        kind = getattr(kind, "value", kind)
        if kind not in KINDS:
            raise BadInputError(f"schema.json: column {name!r} has unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
        out[name] = str(kind)
    return out


def infer_kinds(df: "pd.DataFrame") -> dict[str, str]:
    """A plain dtype-based guess, used only when no schema.json exists (tests, ad-hoc tables)."""
    import pandas as pd

    kinds: dict[str, str] = {}
    for name in df.columns:
        s = df[name]
        non_null = s.dropna()
        if len(non_null) == 0:
            kinds[name] = "empty"
        elif pd.api.types.is_bool_dtype(s):
            kinds[name] = "boolean"
        elif pd.api.types.is_integer_dtype(s):
            kinds[name] = "integer"
        elif pd.api.types.is_float_dtype(s):
            kinds[name] = "integer" if bool((non_null == non_null.round()).all()) and non_null.abs().max() < 2**53 else "float"
        elif pd.api.types.is_datetime64_any_dtype(s):
            kinds[name] = "datetime"
        else:
            text = non_null.astype(str)
            distinct = text.nunique()
            if distinct <= max(20, int(0.05 * len(text))) and distinct < len(text):
                kinds[name] = "categorical"
            elif distinct == len(text) and text.str.len().max() <= 40 and not text.str.contains(" ").any():
                kinds[name] = "identifier"
            else:
                kinds[name] = "text"
    return kinds


def datetime_style(series: "pd.Series") -> str:
    """date when every pandas datetime is at midnight, iso otherwise; text for string columns."""
    import pandas as pd

    if not pd.api.types.is_datetime64_any_dtype(series):
        return TEXT
    s = series.dropna()
    return DATE if len(s) == 0 or bool((s == s.dt.normalize()).all()) else ISO


def parse_datetime(text: str) -> "pd.Timestamp":
    """Parse one date/time string (ISO or anything dateutil reads); ValueError when it is not one."""
    import pandas as pd

    ts = pd.Timestamp(text)
    if ts is pd.NaT:
        raise ValueError("not a date")
    return ts


def epoch_seconds(ts: "pd.Timestamp") -> float:
    """Seconds since 1970-01-01 UTC; naive timestamps count as UTC. Microsecond resolution, so that
    second-resolution timestamps far outside pandas' nanosecond range (year 9999) do not overflow."""
    import numpy as np

    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return float(ts.asm8.astype("datetime64[us]").astype(np.int64)) / 1e6


def describe_columns(df: "pd.DataFrame", kinds: dict[str, str]) -> list[ColumnInfo]:
    """ColumnInfo per column from the training rows: categories and bounds are the observed ones.

    Categories held by fewer than MIN_CATEGORY_ROWS rows are left out (unless
    none is that frequent). Not DP-safe: categories and the exact min/max come
    from the data; with DP on use `dp.dp_safe_columns`.
    """
    import pandas as pd

    from safesynth.generator import identifiers, serialize

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


def columns_to_json(cols: list[ColumnInfo]) -> list[dict[str, Any]]:
    return [c.to_json() for c in cols]


def columns_from_json(items: list[dict[str, Any]]) -> list[ColumnInfo]:
    return [ColumnInfo.from_json(c) for c in items]
