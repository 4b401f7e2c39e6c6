"""Column kinds: what each column of the sensitive table is, decided by explicit rules.

Over 400 lines on purpose: the rules, their thresholds and this docstring that
states them are read and changed together. The types they fill in
(`ColumnKind`, `ColumnSchema`, `TableSchema`) live in `safesynth.schema_model`
and are re-exported here, so callers import everything from this module.

`infer_schema(df)` is a pure, deterministic function of the DataFrame. It runs
on what `safesynth.tables.load_table` returns: CSV columns arrive as strings
(so "007" is still "007"), Parquet and JSONL columns with their own types. The
kinds (`ColumnKind`) drive everything downstream: which columns are modelled
as numbers, categories or dates, which are free text for the language model,
and which are identifiers to be replaced rather than learned.

Rules, tried in this order for each column (thresholds are the module
constants below). Whitespace-only strings count as nulls throughout.

1. **empty**: no non-null value.
2. **boolean**: a bool dtype; or exactly two distinct values that, ignoring
   case, are one of the pairs in `BOOLEAN_PAIRS` (true/false, yes/no, y/n,
   t/f, 1/0); or numbers whose distinct values are exactly {0, 1}.
3. **integer / float**: a numeric dtype, or strings that *all* read as plain
   decimal numbers (`NUMBER_PATTERN`: no thousands separators, no "%", no
   "inf"). Strings are kept as strings when any has a leading zero ("007",
   zip codes, phone numbers) or an integer has more than `MAX_INTEGER_DIGITS`
   digits (card and account numbers). A column is an integer when every value
   is integral ("3.0" included: that is how pandas writes integers with
   nulls), else a float. An integral column whose name looks like an ID
   (`ID_NAME_PATTERN`) and whose values are mostly distinct
   (`ID_NAME_MIN_UNIQUE_RATIO`, or too many for a category) is an
   **identifier** instead.
4. **datetime**: a datetime dtype; or strings of which at least
   `DATETIME_MIN_PARSED` parse with one format of `DATETIME_FORMATS`, tried
   explicitly and in order (the best parse rate wins; a tie goes to the
   earlier format, so ISO and then US month-first win over day-first). No
   per-value dateutil guessing: one format for the whole column, so
   "01/02/2020" cannot mean January in one row and February in the next.
   Values that do not parse become nulls when coerced.
5. Other values are read as strings, with ``u`` distinct values among ``n``
   non-null ones and "long" meaning a mean length of at least
   `TEXT_MIN_MEAN_CHARS` characters or `TEXT_MIN_MEAN_WORDS` words:

   a. nearly all distinct (u/n > `IDENTIFIER_MIN_UNIQUE_RATIO`, u >= 2):
      **text** if long, else **identifier** (IDs, emails, names, phones);
   b. the name looks like an ID and u/n > `ID_NAME_MIN_UNIQUE_RATIO`
      or u is too many for a category: **identifier**;
   c. long and mostly distinct (u/n > `TEXT_MIN_UNIQUE_RATIO`): **text**;
   d. few distinct values (u <= max(`CATEGORICAL_MAX_UNIQUE`,
      `CATEGORICAL_MAX_UNIQUE_FRACTION` * n)): **categorical**;
   e. long: **text**;
   f. u/n >= `IDENTIFIER_FALLBACK_RATIO`: **identifier**; otherwise a
      high-cardinality **categorical**.

Statistics never expose values of identifier or text columns (only counts and
lengths). Categorical columns list their categories with counts, because the
generators need them, but only those seen at least `MIN_CATEGORY_COUNT` times:
rarer ones would single out a person, and are only counted
(`rare_category_count`, `rare_row_count`).

`coerce_to_schema(df, schema)` then converts each column to the dtype of its
kind so the Parquet files hold typed columns.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd

from safesynth.schema_model import SCHEMA_VERSION, CategoryCount, ColumnKind, ColumnSchema, TableSchema

__all__ = [
    "BOOLEAN_PAIRS", "CATEGORICAL_MAX_UNIQUE", "CATEGORICAL_MAX_UNIQUE_FRACTION", "DATETIME_FORMATS",
    "DATETIME_MIN_PARSED", "DATETIME_SAMPLE", "IDENTIFIER_FALLBACK_RATIO", "IDENTIFIER_MIN_UNIQUE_RATIO",
    "ID_NAME_MIN_UNIQUE_RATIO", "ID_NAME_PATTERN", "MAX_EXACT_FLOAT_INT", "MAX_INTEGER_DIGITS", "MIN_CATEGORY_COUNT",
    "NUMBER_PATTERN", "SCHEMA_VERSION", "TEXT_MIN_MEAN_CHARS", "TEXT_MIN_MEAN_WORDS", "TEXT_MIN_UNIQUE_RATIO",
    "CategoryCount", "ColumnKind", "ColumnSchema", "TableSchema", "coerce_to_schema", "infer_column", "infer_schema",
]

# --- thresholds (each one is a rule in the module docstring) ---------------------

# A column that is at least this fraction distinct is identifier-like (or free text).
IDENTIFIER_MIN_UNIQUE_RATIO = 0.9
# A column whose name looks like an ID needs only this distinct fraction to be an identifier.
ID_NAME_MIN_UNIQUE_RATIO = 0.5
# High-cardinality strings that are not categories: identifier if at least this fraction is distinct.
IDENTIFIER_FALLBACK_RATIO = 0.5
# Up to this many distinct values is always few enough for a categorical column...
CATEGORICAL_MAX_UNIQUE = 20
# ... and so is up to this fraction of the non-null values (large tables have more levels).
CATEGORICAL_MAX_UNIQUE_FRACTION = 0.05
# Categories seen fewer times than this are counted but not listed (they could single someone out).
MIN_CATEGORY_COUNT = 5
# Free text: a mean length of at least this many characters ...
TEXT_MIN_MEAN_CHARS = 30.0
# ... or of at least this many whitespace-separated words.
TEXT_MIN_MEAN_WORDS = 4.0
# Long strings that are at least this fraction distinct are text even when there are few rows.
TEXT_MIN_UNIQUE_RATIO = 0.5
# A string column is a datetime when at least this fraction of its non-null values parse with one format.
DATETIME_MIN_PARSED = 0.95
# Formats are first scored on up to this many distinct values (in order of appearance), then checked on all.
DATETIME_SAMPLE = 1000
# Integers written with more digits than this do not fit int64 and are IDs (cards, accounts): kept as strings.
MAX_INTEGER_DIGITS = 18
# Integral floats beyond this are not exactly representable; such columns stay float.
MAX_EXACT_FLOAT_INT = 2**53

# Tried in this order; see rule 4.
DATETIME_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%Y-%m-%d %H:%M:%S%z",
    "%Y/%m/%d",
    "%Y/%m/%d %H:%M:%S",
    "%m/%d/%Y",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d.%m.%Y",
    "%d.%m.%Y %H:%M",
    "%d-%m-%Y",
    "%d-%b-%Y",
    "%d %b %Y",
    "%b %d, %Y",
    "%d %B %Y",
    "%B %d, %Y",
)

# Case-insensitive (true, false) spellings; rule 2.
BOOLEAN_PAIRS: tuple[tuple[str, str], ...] = (("true", "false"), ("yes", "no"), ("y", "n"), ("t", "f"), ("1", "0"))
_TRUE_WORDS = frozenset(t for t, _ in BOOLEAN_PAIRS)
_FALSE_WORDS = frozenset(f for _, f in BOOLEAN_PAIRS)

# A plain decimal number: optional sign, digits with an optional fraction, optional exponent.
NUMBER_PATTERN = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_INTEGER_PATTERN = re.compile(r"[+-]?\d+")
_LEADING_ZERO = re.compile(r"[+-]?0\d")
# "id", "uuid", "guid" as the whole name or a delimited part at either end ("user_id", "ID number"),
# or a camelCase suffix ("customerId", "userID"). Not "paid" or "valid".
ID_NAME_PATTERN = re.compile(r"(?i:(^|[\W_])(id|uuid|guid)$|^(id|uuid|guid)([\W_]|$))|[a-z](Id|ID)$")


# ------------------------------------------------------------------ inference
#
# Text columns are analysed on their *distinct* values with row counts (one
# value_counts pass), so a million-row categorical costs what its few levels
# cost; every rate and mean below is weighted by those counts, i.e. by rows.


def infer_schema(df: pd.DataFrame) -> TableSchema:
    """The kind and statistics of every column of `df`, by the rules in the module docstring."""
    return TableSchema(n_rows=len(df), columns=[infer_column(str(name), df[name]) for name in df.columns])


def infer_column(name: str, s: pd.Series) -> ColumnSchema:
    """One column's schema; `name` is used only for the ID-name rule."""
    dtype = s.dtype
    if pd.api.types.is_bool_dtype(dtype):
        flags = s.dropna().astype(bool)
        fields = _boolean_fields(int(flags.sum()), len(flags))
    elif _is_numeric_dtype(dtype):
        vc = s.value_counts(sort=False)
        fields = _numeric_fields(name, _numbers(pd.Series(vc.index)), vc.to_numpy())
    elif pd.api.types.is_datetime64_any_dtype(dtype):
        fields = _datetime_fields(s.dropna(), None)
    else:
        fields = _object_fields(name, s)
    n_present = fields.pop("n_present")
    null_count = len(s) - n_present
    base: dict[str, Any] = {
        "name": name,
        "source_dtype": str(dtype),
        "null_count": null_count,
        "null_fraction": null_count / len(s) if len(s) else 0.0,
    }
    if n_present == 0:
        fields = {"kind": ColumnKind.EMPTY, "n_unique": 0}
    target = fields.pop("dtype", None) or _target_dtype(fields["kind"], dtype, null_count, fields.get("all_integral"))
    return ColumnSchema(**base, **fields, dtype=target)


def _target_dtype(kind: ColumnKind, source: Any, null_count: int, all_integral: bool | None) -> str:
    """The dtype `coerce_to_schema` gives a column of this kind (datetimes are worked out where they are parsed)."""
    if kind == ColumnKind.EMPTY:
        return "float64" if _is_numeric_dtype(source) else "string"
    if kind == ColumnKind.INTEGER or (kind == ColumnKind.IDENTIFIER and all_integral):
        return "Int64" if null_count else "int64"
    if kind == ColumnKind.FLOAT:
        return "float64"
    if kind == ColumnKind.BOOLEAN:
        return "boolean" if null_count else "bool"
    if kind == ColumnKind.DATETIME:
        return str(source)
    return "string"


def _is_numeric_dtype(dtype: Any) -> bool:
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def _is_texty_dtype(dtype: Any) -> bool:
    types = pd.api.types
    return types.is_object_dtype(dtype) or types.is_string_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype)


def _object_fields(name: str, s: pd.Series) -> dict[str, Any]:
    """Object, string and category columns: Python bools or numbers keep their meaning, the rest is read as text."""
    vc = s.value_counts(sort=False)
    vc = vc[vc > 0]  # a category dtype lists unused categories with count 0
    keys = list(vc.index)
    if keys and all(isinstance(k, (bool, np.bool_)) for k in keys):
        n_true = int(sum(c for k, c in zip(keys, vc.to_numpy(), strict=True) if k))
        return _boolean_fields(n_true, int(vc.sum()))
    if keys and all(_is_number(k) for k in keys) and all(not isinstance(k, int) or abs(k) < 2**63 for k in keys):
        return _numeric_fields(name, _numbers(pd.Series(keys, dtype=object)), vc.to_numpy())
    text = pd.Series(vc.to_numpy(), index=pd.Index([k if isinstance(k, str) else str(k) for k in keys], dtype=object))
    if not text.index.is_unique:  # 1 and "1" in one object column are one value as text
        text = text.groupby(level=0, sort=False).sum()
    blank = np.array([not k.strip() for k in text.index], dtype=bool)
    return _string_fields(name, text[~blank])


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _numeric_strings(stripped: pd.Series) -> bool:
    """Rule 3 for text: every value a plain number, none with a leading zero, no integer too long for int64."""
    head = stripped.iloc[:100]  # most text columns fail on their first values: skip the full pass
    if len(stripped) == 0 or not head.str.fullmatch(NUMBER_PATTERN.pattern).all():
        return False
    if not stripped.str.fullmatch(NUMBER_PATTERN.pattern).all():
        return False
    if stripped.str.match(_LEADING_ZERO.pattern).any():
        return False
    integers = stripped[stripped.str.fullmatch(_INTEGER_PATTERN.pattern)]
    return not (integers.str.lstrip("+-").str.len() > MAX_INTEGER_DIGITS).any()


def _numbers(values: pd.Series) -> pd.Series:
    """Values (numbers, or number strings) as int64 when all are integers that fit, else float64."""
    if values.dtype == object:
        values = pd.to_numeric(values)
    if pd.api.types.is_integer_dtype(values.dtype):
        if len(values) and values.max() > np.iinfo(np.int64).max:
            return values.astype("float64")
        return values.astype("int64")
    return values.astype("float64")


def _numeric_fields(name: str, nums: pd.Series, counts: np.ndarray, tokens: pd.Series | None = None) -> dict[str, Any]:
    """Rule 3 (and rule 2 for {0, 1}) for numbers with their row counts.

    `nums[i]` occurs `counts[i]` times; `tokens[i]` is its original spelling
    when the numbers were text.
    """
    arr = nums.to_numpy()
    n = int(counts.sum())
    if nums.dtype == "float64":
        finite = arr[np.isfinite(arr)]
        integral = bool(len(finite) == len(arr) and np.all(finite == np.floor(finite))
                        and np.all(np.abs(finite) <= MAX_EXACT_FLOAT_INT))
        if integral:
            arr = arr.astype("int64")
    else:
        finite, integral = arr, True
    distinct = pd.unique(arr)
    u = len(distinct)
    if u == 2 and set(distinct.tolist()) == {0, 1}:
        is_true = arr == 1
        true_token = false_token = None
        if tokens is not None:
            true_token = _most_frequent(tokens[is_true], counts[is_true])
            false_token = _most_frequent(tokens[~is_true], counts[~is_true])
        return _boolean_fields(int(counts[is_true].sum()), n, true_token, false_token)
    if integral and _id_like_name(name) and u >= 2 and (u / n > ID_NAME_MIN_UNIQUE_RATIO or u > _max_categories(n)):
        # all_integral tells coerce_to_schema to keep the integers of this identifier.
        return {"kind": ColumnKind.IDENTIFIER, "n_present": n, "n_unique": u, "all_integral": True}
    cast = int if integral else float
    return {
        "kind": ColumnKind.INTEGER if integral else ColumnKind.FLOAT,
        "n_present": n,
        "n_unique": u,
        "min": cast(finite.min()) if len(finite) else None,
        "max": cast(finite.max()) if len(finite) else None,
        "all_integral": integral,
    }


def _boolean_fields(n_true: int, n: int, true_token: str | None = None, false_token: str | None = None
                    ) -> dict[str, Any]:
    """Both categories, true first, and for text the file's spellings of true and false."""
    return {
        "kind": ColumnKind.BOOLEAN,
        "n_present": n,
        "n_unique": int(n_true > 0) + int(n - n_true > 0),
        "categories": [CategoryCount(value="true", count=n_true), CategoryCount(value="false", count=n - n_true)],
        "true_token": true_token,
        "false_token": false_token,
    }


def _most_frequent(tokens: pd.Series, counts: np.ndarray) -> str | None:
    """The most frequent spelling; ties go to the smallest string, so the choice is deterministic."""
    totals: dict[str, int] = {}
    for token, count in zip(tokens, counts, strict=True):
        totals[token] = totals.get(token, 0) + int(count)
    return min(totals, key=lambda t: (-totals[t], t)) if totals else None


def _datetime_fields(stamps: pd.Series, fmt: str | None, n_present: int | None = None, unparsed: int | None = None
                     ) -> dict[str, Any]:
    """min/max as ISO 8601 (dates alone when the format has no time).

    `stamps` are the non-null values of a datetime column, or the parsed
    distinct strings (NaT where they did not parse) with `n_present` rows of
    which `unparsed` did not parse.
    """
    date_only = fmt is not None and not any(code in fmt for code in ("%H", "%M", "%S", "%f", "%z"))
    valid = stamps.dropna()

    def iso(t: pd.Timestamp) -> str:
        return str(t.date().isoformat() if date_only else t.isoformat())

    return {
        "kind": ColumnKind.DATETIME,
        "n_present": len(stamps) if n_present is None else n_present,
        "unparsed_count": unparsed,
        "n_unique": int(valid.nunique()),
        "min": iso(valid.min()) if len(valid) else None,
        "max": iso(valid.max()) if len(valid) else None,
        "format": fmt,
        "dtype": str(stamps.dtype),
    }


def _string_fields(name: str, counts: pd.Series) -> dict[str, Any]:
    """Rules 2-5 for text: `counts` maps each distinct non-blank string to its number of rows."""
    raw = pd.Series(counts.index, dtype=object)
    weights = counts.to_numpy()
    n = int(weights.sum())
    if n == 0:
        return {"kind": ColumnKind.EMPTY, "n_present": 0, "n_unique": 0}
    stripped = raw.str.strip()
    lower = stripped.str.lower()
    words = set(lower.unique()) if _at_most_distinct(lower, 2) else set()
    for true_word, false_word in BOOLEAN_PAIRS:
        if words == {true_word, false_word}:
            is_true = (lower == true_word).to_numpy()
            return _boolean_fields(int(weights[is_true].sum()), n, _most_frequent(stripped[is_true], weights[is_true]),
                                   _most_frequent(stripped[~is_true], weights[~is_true]))
    if _numeric_strings(stripped):
        return _numeric_fields(name, _numbers(stripped), weights, stripped)

    fmt = _datetime_format(stripped, weights)
    if fmt is not None:
        parsed = _parse_dates(stripped, fmt)
        return _datetime_fields(parsed, fmt, n, int(weights[parsed.isna().to_numpy()].sum()))

    u = len(raw)
    ratio = u / n
    chars = raw.str.len().to_numpy()
    mean_chars = float((chars * weights).sum() / n)
    mean_words = float((raw.str.count(r"\S+").to_numpy() * weights).sum() / n)
    long = mean_chars >= TEXT_MIN_MEAN_CHARS or mean_words >= TEXT_MIN_MEAN_WORDS
    common = {"n_present": n, "n_unique": u}
    lengths = {**common, "mean_chars": round(mean_chars, 2), "max_chars": int(chars.max())}
    text_fields = {"kind": ColumnKind.TEXT, **lengths, "mean_words": round(mean_words, 2)}
    ident_fields = {"kind": ColumnKind.IDENTIFIER, **lengths}

    if u >= 2 and ratio > IDENTIFIER_MIN_UNIQUE_RATIO:
        return text_fields if long else ident_fields
    if u >= 2 and _id_like_name(name) and (ratio > ID_NAME_MIN_UNIQUE_RATIO or u > _max_categories(n)):
        return ident_fields
    if long and ratio > TEXT_MIN_UNIQUE_RATIO:
        return text_fields
    if u <= _max_categories(n):
        return {**common, **_categorical_fields(counts)}
    if long:
        return text_fields
    if ratio >= IDENTIFIER_FALLBACK_RATIO:
        return ident_fields
    return {**common, **_categorical_fields(counts)}


def _at_most_distinct(values: pd.Series, k: int) -> bool:
    """Whether `values` has at most k distinct values, without hashing a large column when it plainly has more."""
    return len(values) <= k or (values.iloc[: 4 * k].nunique() <= k and values.nunique() <= k)


def _max_categories(n: int) -> float:
    return max(CATEGORICAL_MAX_UNIQUE, CATEGORICAL_MAX_UNIQUE_FRACTION * n)


def _categorical_fields(counts: pd.Series) -> dict[str, Any]:
    """Frequent categories, most frequent first (ties by value, for determinism); rare ones only counted."""
    pairs = sorted(((str(v), int(c)) for v, c in counts.items()), key=lambda vc: (-vc[1], vc[0]))
    rare = [c for _, c in pairs if c < MIN_CATEGORY_COUNT]
    return {
        "kind": ColumnKind.CATEGORICAL,
        "categories": [CategoryCount(value=v, count=c) for v, c in pairs if c >= MIN_CATEGORY_COUNT],
        "rare_category_count": len(rare),
        "rare_row_count": sum(rare),
    }


def _id_like_name(name: str) -> bool:
    return bool(ID_NAME_PATTERN.search(name.strip()))


def _datetime_format(stripped: pd.Series, weights: np.ndarray) -> str | None:
    """The first format of `DATETIME_FORMATS` with the best parse rate, if that rate reaches DATETIME_MIN_PARSED.

    `stripped` are distinct values, `weights` their row counts: rates count
    rows. Formats are scored on the first `DATETIME_SAMPLE` distinct values
    (in order of appearance); the winner is then checked on all of them.
    """

    def rate(ok: pd.Series, w: np.ndarray) -> float:
        return float(w[ok.to_numpy(dtype=bool)].sum() / w.sum())

    sample, w = stripped.iloc[:DATETIME_SAMPLE], weights[:DATETIME_SAMPLE]
    if rate(sample.str.contains(r"\d") & (sample.str.len() <= 40), w) < DATETIME_MIN_PARSED:
        return None  # cheap exit for columns that are plainly not dates (no digits, or long)
    best, best_rate = None, 0.0
    for fmt in DATETIME_FORMATS:
        r = rate(_parse_dates(sample, fmt).notna(), w)
        if r > best_rate:
            best, best_rate = fmt, r
            if r == 1.0:
                break
    if best is None or best_rate < DATETIME_MIN_PARSED:
        return None
    if len(sample) < len(stripped) and rate(_parse_dates(stripped, best).notna(), weights) < DATETIME_MIN_PARSED:
        return None
    return best


def _parse_dates(strings: pd.Series, fmt: str) -> pd.Series:
    """Strings -> datetimes with exactly `fmt` (NaT where they do not match); offsets are converted to UTC."""
    return pd.to_datetime(strings, format=fmt, errors="coerce", utc="%z" in fmt)


# -------------------------------------------------------------------- coercion


def coerce_to_schema(df: pd.DataFrame, schema: TableSchema) -> pd.DataFrame:
    """A new DataFrame whose columns have the dtypes of their kinds (the input is not modified).

    integer -> int64 (Int64 when there are nulls), float -> float64, boolean ->
    bool (nullable "boolean" with nulls), datetime -> datetime64 (UTC when the
    strings had offsets), categorical/text/identifier -> "string"; an integral
    identifier keeps its integers. Whitespace-only strings become nulls, as
    they were counted in the schema. Raises ValueError when `df` has a column
    the schema does not describe.
    """
    by_name = {c.name: c for c in schema.columns}
    missing = [str(name) for name in df.columns if str(name) not in by_name]
    if missing:
        raise ValueError(f"the schema does not describe the columns {missing}")
    out = {name: _coerce_column(df[name], by_name[str(name)]) for name in df.columns}
    return pd.DataFrame(out, index=df.index)


def _coerce_column(s: pd.Series, col: ColumnSchema) -> pd.Series:
    kind = col.kind
    if kind == ColumnKind.EMPTY:
        return pd.Series(np.nan, index=s.index, dtype="float64") if _is_numeric_dtype(s.dtype) else _as_string(s)
    if kind in (ColumnKind.INTEGER, ColumnKind.FLOAT) or (kind == ColumnKind.IDENTIFIER and col.all_integral):
        nums = s if _is_numeric_dtype(s.dtype) else pd.to_numeric(
            _text_objects(s), errors="coerce", dtype_backend="numpy_nullable")
        if kind == ColumnKind.FLOAT:
            return nums.astype("float64")
        ints = nums.astype("Int64")
        return ints if ints.isna().any() else ints.astype("int64")
    if kind == ColumnKind.BOOLEAN:
        flags = _to_boolean(s)
        return flags if flags.isna().any() else flags.astype(bool)
    if kind == ColumnKind.DATETIME:
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            return s
        text = _text_objects(s)
        return _parse_dates(text, col.format) if col.format else pd.to_datetime(text, errors="coerce")
    return _as_string(s)


def _without_blanks(s: pd.Series) -> pd.Series:
    """Text-like columns as objects, whitespace-only strings replaced by null (found among distinct values)."""
    if not _is_texty_dtype(s.dtype):
        return s
    obj = s.astype(object)
    blanks = [v for v in pd.unique(obj) if isinstance(v, str) and not v.strip()]
    return obj.mask(obj.isin(blanks)) if blanks else obj


def _text_objects(s: pd.Series) -> pd.Series:
    """Non-null values as stripped strings (objects), blanks as nulls: what the parsers expect."""
    obj = _without_blanks(s).astype(object)
    odd = [v for v in pd.unique(obj) if not (isinstance(v, str) and v == v.strip()) and not _is_null(v)]
    if odd:  # only columns that need it pay for a per-value pass
        obj = obj.map(lambda v: v if _is_null(v) else str(v).strip())
    return obj


def _is_null(v: Any) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v))


def _to_boolean(s: pd.Series) -> pd.Series:
    """Bool dtypes as they are, numbers as ==1, spelled tokens case-insensitively; anything else is null."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("boolean")
    if _is_numeric_dtype(s.dtype):
        return (s == 1).astype("boolean").mask(s.isna())
    obj = _text_objects(s)
    mapping = {v: _boolean_word(v) for v in pd.unique(obj) if not _is_null(v)}
    return obj.map(mapping).astype("boolean")


def _boolean_word(v: Any) -> Any:
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    word = str(v).strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    try:
        return {1.0: True, 0.0: False}.get(float(word), pd.NA)
    except ValueError:
        return pd.NA


def _as_string(s: pd.Series) -> pd.Series:
    obj = _without_blanks(s).astype(object)
    if any(not isinstance(v, str) and not _is_null(v) for v in pd.unique(obj)):
        obj = obj.map(lambda v: v if isinstance(v, str) or _is_null(v) else str(v))
    return obj.astype("string")
