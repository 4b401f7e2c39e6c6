"""Row <-> fields: one string (or None for null) per modeled column, lossless per kind.

Why fields and not one JSON line per row: the tokenizer joins fields with a
separator *token id* (see tokenizer.py), so a value may hold any character
(quotes, newlines, the separator's own spelling, any unicode) with no escaping,
and the sampler always knows which column it is writing, which lets it enforce
the schema while decoding and hold columns at fixed values. Column names are
not written: the order is fixed, which keeps rows short.

Canonical spellings, so that every value has exactly one field string:
- integer: decimal digits with an optional "-" (34.0 in a float column -> "34");
- float: the shortest string that reads back to the same double, positional
  for 1e-6 <= |x| < 1e16 (digits are easier to learn than exponents), else
  scientific; float32 columns round-trip as float32;
- boolean (bool dtypes): "true" / "false"; booleans stored as strings stay strings;
- datetime: "YYYY-MM-DD" when every value is at midnight, else ISO 8601 with the
  offset when the column has one; dates stored as strings stay strings;
- categorical, text: the string itself (numbers in a categorical column are
  written as integers or floats, as above).
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any, Optional, Sequence

import numpy as np

from safesynth.generator.column_info import DATE, ISO, TEXT, ColumnInfo, epoch_seconds, parse_datetime

if TYPE_CHECKING:
    import pandas as pd

Field = Optional[str]
_INT = re.compile(r"-?\d+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class FieldError(ValueError):
    """A field that does not read back as its column's kind; `reason` names the check (no value)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _is_null(value: Any) -> bool:
    if value is None:
        return True
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def float_text(value: Any, dtype: str = "float64") -> str:
    """Shortest round-trip spelling of a float (see module docstring)."""
    x = np.float32(value) if dtype == "float32" else np.float64(value)
    if not np.isfinite(x):
        return str(float(x))  # "inf", "-inf"; NaN never gets here (it is null)
    if x == 0 or 1e-6 <= abs(float(x)) < 1e16:
        return np.format_float_positional(x, unique=True, trim="-")
    return np.format_float_scientific(x, unique=True, trim="-")


def to_field(value: Any, col: ColumnInfo) -> Field:
    """The canonical field string of one value, None for null."""
    if _is_null(value):
        return None
    kind, dtype = col.kind, col.dtype
    if isinstance(value, (bool, np.bool_)) or (kind == "boolean" and col.bool_dtype):
        return "true" if bool(value) else "false"
    if kind == "integer":
        return str(int(value))
    if kind == "float":
        return float_text(value, dtype)
    if kind == "datetime":
        if col.style == TEXT or isinstance(value, str):
            return str(value)
        ts = value if hasattr(value, "isoformat") else parse_datetime(str(value))
        return str(ts.strftime("%Y-%m-%d") if col.style == DATE else ts.isoformat())
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if float(value).is_integer() and "int" in dtype.lower() else float_text(value, dtype)
    return str(value)


def from_field(text: Field, col: ColumnInfo) -> Any:
    """The value a field stands for, typed for its column; FieldError(reason) when it is not one."""
    if text is None:
        if not col.nullable:
            raise FieldError("null")
        return None
    kind = col.kind
    if kind == "integer":
        if not _INT.fullmatch(text):
            raise FieldError("type")
        return int(text)
    if kind == "float":
        try:
            x = float(text)
        except ValueError:
            raise FieldError("type") from None
        if math.isnan(x):
            raise FieldError("type")
        return x
    if col.bool_dtype:
        if text not in ("true", "false"):
            raise FieldError("type")
        return text == "true"
    if kind == "datetime":
        try:
            ts = parse_datetime(text)
        except (ValueError, OverflowError, TypeError):
            raise FieldError("type") from None
        if col.style == TEXT:
            return text
        if col.style == DATE and not _DATE.fullmatch(text):
            raise FieldError("type")
        if (ts.tzinfo is not None) != col.tz_aware:  # one column, one kind of timestamp
            raise FieldError("type")
        return ts
    if kind == "categorical":
        return _scalar_for_dtype(text, col.dtype)
    return text


def datetime_seconds(value: Any) -> float:
    """Seconds since the epoch of a parsed datetime field (a Timestamp, or a string for text-style columns)."""
    ts = parse_datetime(value) if isinstance(value, str) else value
    return epoch_seconds(ts)


def _scalar_for_dtype(text: str, dtype: str) -> Any:
    d = dtype.lower()
    try:
        if "int" in d:
            return int(text)
        if "float" in d:
            return float(text)
    except ValueError:
        raise FieldError("type") from None
    return text


def frame_to_fields(df: "pd.DataFrame", cols: Sequence[ColumnInfo]) -> list[list[Field]]:
    """Fields of every row, modeled columns only, in `cols` order."""
    modeled = [c for c in cols if c.modeled]
    per_col = [[to_field(v, c) for v in df[c.name].tolist()] for c in modeled]
    return [list(row) for row in zip(*per_col)] if per_col else [[] for _ in range(len(df))]


def values_to_frame(rows: Sequence[Sequence[Any]], cols: Sequence[ColumnInfo]) -> "pd.DataFrame":
    """A DataFrame from parsed values (one list per row, `cols` order), each column in its original dtype."""
    import pandas as pd

    data = {}
    for j, col in enumerate(cols):
        data[col.name] = _series([r[j] for r in rows], col)
    return pd.DataFrame(data, columns=[c.name for c in cols])


def _series(values: list[Any], col: ColumnInfo) -> "pd.Series":
    import pandas as pd

    has_null = any(v is None for v in values)
    dtype = col.dtype
    try:
        if col.kind == "datetime" and col.style != TEXT:
            s = pd.to_datetime(pd.Series(values, dtype=object), utc=("UTC" in dtype or "," in dtype))
            return s.astype(dtype) if dtype.startswith("datetime64") else s
        if dtype in ("int64", "int32", "int16", "int8", "uint8", "uint16", "uint32", "uint64") and has_null:
            dtype = "Int64"
        if dtype == "bool" and has_null:
            dtype = "boolean"
        if dtype.startswith("float") or dtype in ("Float64", "Float32"):
            values = [np.nan if v is None else v for v in values] if dtype.startswith("float") else values
        return pd.Series(values, dtype=dtype)
    except (TypeError, ValueError):
        return pd.Series(values, dtype=object)


__all__ = ["DATE", "ISO", "TEXT", "Field", "FieldError", "datetime_seconds", "float_text", "frame_to_fields",
           "from_field", "to_field", "values_to_frame"]
