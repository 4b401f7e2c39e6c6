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
3. **integer / float**: a numeric dtype, or strings of which at least
   `NUMBER_MIN_PARSED` read as numbers in one spelling (`safesynth.valueformats`:
   decimal mark, thousands separator, a unit such as "%" or "$"), after
   stripping padding and ignoring null tokens (`NULL_TOKENS`: "?", "-", "N/A",
   ...), which are nulls in typed columns only. Ambiguous `12,345` / `12.345`
   follow the table's decimal mark (`decimal_mark`: unambiguous values vote,
   a ";" file breaks ties), unless a column of plain integers beside grouped
   ones shows grouping. Plain strings stay text when any has a leading zero
   ("007", zip codes) or an integer has more than `MAX_INTEGER_DIGITS` digits.
   A column is an integer when every value is integral, else a float. An
   integral column whose name looks like an ID (`ID_NAME_PATTERN`) and whose
   values are nearly unique (`IDENTIFIER_MIN_UNIQUE_RATIO`) is an
   **identifier** instead.
4. **datetime**: a datetime dtype; or strings of which at least
   `DATETIME_MIN_PARSED` parse with up to `MAX_DATE_FORMATS` formats of
   `DATETIME_FORMATS`, chosen greedily (the format reading most rows, then the
   one reading most of the rest; ties go to the earlier format, so ISO and US
   month-first win over day-first). Each value is parsed with the first chosen
   format that reads it; a column written both day-first and month-first is
   flagged `ambiguousDayMonth`.
   Values that do not parse under a column's kind are counted
   (`unparsed_count`) and become nulls when coerced; a column that looked like
   numbers or dates but ends up text gets a warning (`SchemaWarning`).
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

Declarations (`spec.data.columns`) beat these rules column by column.
`coerce_to_schema(df, schema)` then converts each column to the dtype of its
kind with the recorded spelling, so the Parquet files hold typed columns.
"""

from __future__ import annotations

import math
import re
from typing import Any, Mapping

import numpy as np
import pandas as pd

from safesynth.errors import BadInputError
from safesynth.schema_model import (
    SCHEMA_VERSION,
    CategoryCount,
    ColumnSchema,
    FormatCount,
    SchemaWarning,
    TableSchema,
)
from safesynth.spec.models import ColumnDeclaration, ColumnKind
from safesynth.valueformats import (
    DATETIME_FORMATS,
    DAY_FIRST,
    MONTH_FIRST,
    NULL_TOKENS,
    NumberSpelling,
    canonical_numbers,
    date_formats,
    number_spelling,
    parse_date_format,
    parse_dates,
)

__all__ = [
    "BOOLEAN_PAIRS", "CATEGORICAL_MAX_UNIQUE", "CATEGORICAL_MAX_UNIQUE_FRACTION", "DATETIME_FORMATS",
    "DATETIME_MIN_PARSED", "DATETIME_SAMPLE", "IDENTIFIER_FALLBACK_RATIO", "IDENTIFIER_MIN_UNIQUE_RATIO",
    "ID_NAME_MIN_UNIQUE_RATIO", "ID_NAME_PATTERN", "MAX_EXACT_FLOAT_INT", "MAX_INTEGER_DIGITS", "MIN_CATEGORY_COUNT",
    "NUMBER_MIN_PARSED", "NUMBER_PATTERN", "SCHEMA_VERSION", "TEXT_MIN_MEAN_CHARS", "TEXT_MIN_MEAN_WORDS",
    "TEXT_MIN_UNIQUE_RATIO", "CategoryCount", "ColumnKind", "ColumnSchema", "FormatCount", "SchemaWarning",
    "TableSchema", "coerce_to_schema", "decimal_mark", "infer_column", "infer_column_with_warnings", "infer_schema",
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
# A string column is a datetime when at least this fraction of its non-null values (null tokens aside) parse
# with its formats, and a number column likewise with its spelling; the rest is counted as unparsed.
DATETIME_MIN_PARSED = 0.95
NUMBER_MIN_PARSED = 0.95
# A column that ends up text although at least this share read as numbers or dates gets a warning.
FALLBACK_WARN_RATE = 0.5
# Formats are first scored on up to this many distinct values (in order of appearance), then counted on all.
DATETIME_SAMPLE = 1000
# Integers written with more digits than this do not fit int64 and are IDs (cards, accounts): kept as strings.
MAX_INTEGER_DIGITS = 18
# Integral floats beyond this are not exactly representable; such columns stay float.
MAX_EXACT_FLOAT_INT = 2**53

# Case-insensitive (true, false) spellings; rule 2.
BOOLEAN_PAIRS: tuple[tuple[str, str], ...] = (("true", "false"), ("yes", "no"), ("y", "n"), ("t", "f"), ("1", "0"))
_TRUE_WORDS = frozenset(t for t, _ in BOOLEAN_PAIRS)
_FALSE_WORDS = frozenset(f for _, f in BOOLEAN_PAIRS)

# A plain decimal number: optional sign, digits with an optional fraction, optional exponent.
NUMBER_PATTERN = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_INTEGER_PATTERN = re.compile(r"[+-]?\d+")
_LEADING_ZERO = re.compile(r"[+-]?0\d")
# Spellings only a decimal comma (or only a decimal point) explains; `decimal_mark` counts them.
_DECIMAL_COMMA = re.compile(r"[+-]?(\d+,(\d{1,2}|\d{4,})|\d{1,3}(\.\d{3})+,\d+)%?")
_DECIMAL_POINT = re.compile(r"[+-]?(\d+\.(\d{1,2}|\d{4,})|\d{1,3}(,\d{3})+\.\d+)%?")
# "id", "uuid", "guid" as the whole name or a delimited part at either end ("user_id", "ID number"),
# or a camelCase suffix ("customerId", "userID"). Not "paid" or "valid".
ID_NAME_PATTERN = re.compile(r"(?i:(^|[\W_])(id|uuid|guid)$|^(id|uuid|guid)([\W_]|$))|[a-z](Id|ID)$")


# ------------------------------------------------------------------ inference
#
# Text columns are analysed on their *distinct* values with row counts (one
# value_counts pass), so a million-row categorical costs what its few levels
# cost; every rate and mean below is weighted by those counts, i.e. by rows.


def infer_schema(df: pd.DataFrame, declared: Mapping[str, ColumnDeclaration] | None = None, *,
                 delimiter: str | None = None) -> TableSchema:
    """The kind and statistics of every column of `df`, by the rules in the module docstring.

    `declared` (spec.data.columns) beats inference column by column;
    `delimiter` is the CSV's field separator, the tie-breaker for the table's
    decimal mark (rule 3). Raises BadInputError for a declared column the
    table does not have.
    """
    declared = dict(declared or {})
    unknown = [name for name in declared if name not in {str(c) for c in df.columns}]
    if unknown:
        raise BadInputError(f"spec.data.columns names {', '.join(map(repr, unknown[:10]))}, which the table does not "
                            "have; use the column names of the file's header")
    hint = decimal_mark(df, delimiter)
    columns, warnings = [], []
    for name in df.columns:
        col, found = infer_column_with_warnings(str(name), df[name], declared.get(str(name)), decimal_hint=hint)
        columns.append(col)
        warnings += found
    return TableSchema(n_rows=len(df), columns=columns, warnings=warnings)


def infer_column(name: str, s: pd.Series, declared: ColumnDeclaration | None = None, *,
                 decimal_hint: str = ".") -> ColumnSchema:
    """One column's schema; `name` is used only for the ID-name rule."""
    return infer_column_with_warnings(name, s, declared, decimal_hint=decimal_hint)[0]


def infer_column_with_warnings(name: str, s: pd.Series, declared: ColumnDeclaration | None = None, *,
                               decimal_hint: str = ".") -> tuple[ColumnSchema, list[SchemaWarning]]:
    """One column's schema and the warnings about it (codes, never values)."""
    dtype = s.dtype
    decl = _Declared.of(declared)
    if decl.as_text and not _is_texty_dtype(dtype):
        s = _as_string(s).astype(object)  # e.g. numbers declared categorical or dates written as 20210304
    if pd.api.types.is_bool_dtype(dtype) and not decl.as_text:
        flags = s.dropna().astype(bool)
        fields = _boolean_fields(int(flags.sum()), len(flags))
    elif _is_numeric_dtype(dtype) and not decl.as_text:
        vc = s.value_counts(sort=False)
        fields = _numeric_fields(name, _numbers(pd.Series(vc.index)), vc.to_numpy(), decl=decl)
    elif pd.api.types.is_datetime64_any_dtype(dtype) and not decl.as_text:
        fields = _datetime_fields(s.dropna(), None)
    else:
        fields = _object_fields(name, s, decl, decimal_hint)
    codes: list[str] = fields.pop("warnings", [])
    n_present = fields.pop("n_present")
    null_count = len(s) - n_present
    base: dict[str, Any] = {
        "name": name,
        "source_dtype": str(dtype),
        "null_count": null_count,
        "null_fraction": null_count / len(s) if len(s) else 0.0,
        "declared": True if declared is not None else None,
    }
    if n_present == 0 and fields.get("kind") != ColumnKind.IDENTIFIER:
        fields = {"kind": ColumnKind.EMPTY, "n_unique": 0, "null_values": fields.get("null_values")}
    fields = _not_identifier(fields, decl)
    target = fields.pop("dtype", None) or _target_dtype(fields["kind"], dtype, null_count, fields.get("all_integral"))
    col = ColumnSchema(**base, **fields, dtype=target)
    if col.unparsed_count:
        codes.append("unparsed")
    warnings = [SchemaWarning(column=name, code=code, kind=col.kind.value,
                              count=col.unparsed_count if code == "unparsed" else None)
                for code in dict.fromkeys(codes)]
    return col, warnings


class _Declared:
    """spec.data.columns.<name> as the rules use it (an empty declaration when there is none)."""

    def __init__(self, kind: ColumnKind | None, formats: tuple[str, ...], spelling: NumberSpelling | None,
                 null_values: frozenset[str], identifier: bool | None) -> None:
        self.kind, self.formats, self.spelling = kind, formats, spelling
        self.null_values, self.identifier = null_values, identifier

    @classmethod
    def of(cls, d: ColumnDeclaration | None) -> _Declared:
        if d is None:
            return cls(None, (), None, frozenset(), None)
        kind = ColumnKind(d.kind.value) if d.kind is not None else None
        if d.identifier:
            kind = ColumnKind.IDENTIFIER
        if kind is None and d.format:
            kind = ColumnKind.DATETIME
        spelling = None
        if d.decimal is not None or d.thousands is not None:
            decimal = d.decimal or ("," if d.thousands == "." else ".")
            spelling = NumberSpelling(decimal, d.thousands or None)
        return cls(kind, (d.format,) if d.format else (), spelling, frozenset(d.null_values), d.identifier)

    @property
    def as_text(self) -> bool:
        """Declared a kind that a typed (numeric, bool, datetime) column does not have by itself."""
        return self.kind in (ColumnKind.CATEGORICAL, ColumnKind.TEXT, ColumnKind.IDENTIFIER, ColumnKind.DATETIME,
                             ColumnKind.BOOLEAN)


def _not_identifier(fields: dict[str, Any], decl: _Declared) -> dict[str, Any]:
    """`identifier: false`: an identifier by the rules becomes an integer (integral numbers) or free text."""
    if decl.identifier is not False or fields.get("kind") != ColumnKind.IDENTIFIER:
        return fields
    if fields.get("all_integral"):
        return {**fields, "kind": ColumnKind.INTEGER}
    return {**fields, "kind": ColumnKind.TEXT}


def decimal_mark(df: pd.DataFrame, delimiter: str | None = None) -> str:
    """The table's decimal mark: "," when its text columns show decimal commas more often than points.

    Only unambiguous spellings vote: a separator followed by other than three
    digits ("3,14", "0.5") or both separators in one value ("1.234,5").
    "12,345" and "12.345" do not vote; they are what the answer decides. A tie
    goes to "," in a ";"-separated file (European Excel) and to "." otherwise.
    """
    votes = {".": 0, ",": 0}
    for name in df.columns:
        if not _is_texty_dtype(df[name].dtype):
            continue
        sample = pd.Series(pd.unique(df[name].dropna().astype(str))[:DATETIME_SAMPLE], dtype=object).str.strip()
        if sample.empty:
            continue
        for mark, pattern in ((",", _DECIMAL_COMMA), (".", _DECIMAL_POINT)):
            votes[mark] += int(sample.str.fullmatch(pattern.pattern).sum())
    if votes[","] != votes["."]:
        return "," if votes[","] > votes["."] else "."
    return "," if delimiter == ";" else "."


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


def _object_fields(name: str, s: pd.Series, decl: _Declared, decimal_hint: str) -> dict[str, Any]:
    """Object, string and category columns: Python bools or numbers keep their meaning, the rest is read as text."""
    vc = s.value_counts(sort=False)
    vc = vc[vc > 0]  # a category dtype lists unused categories with count 0
    keys = list(vc.index)
    if not decl.as_text and keys and all(isinstance(k, (bool, np.bool_)) for k in keys):
        n_true = int(sum(c for k, c in zip(keys, vc.to_numpy(), strict=True) if k))
        return _boolean_fields(int(n_true), int(vc.sum()))
    if (not decl.as_text and keys and all(_is_number(k) for k in keys)
            and all(not isinstance(k, int) or abs(k) < 2**63 for k in keys)):
        return _numeric_fields(name, _numbers(pd.Series(keys, dtype=object)), vc.to_numpy(), decl=decl)
    text = pd.Series(vc.to_numpy(), index=pd.Index([k if isinstance(k, str) else str(k) for k in keys], dtype=object))
    text.index = text.index.str.strip()  # " 12" and "12" are one value: padding is not data
    if not text.index.is_unique:  # 1 and "1" in one object column, or padded copies, are one value as text
        text = text.groupby(level=0, sort=False).sum()
    return _string_fields(name, text[text.index != ""], decl, decimal_hint)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _kept_as_text(parsed: pd.Series) -> str | None:
    """Why strings that all read as numbers stay text: leading zeros (zip codes) or too many digits (cards)."""
    if parsed.str.match(_LEADING_ZERO.pattern).any():
        return "leadingZeros"
    integers = parsed[parsed.str.fullmatch(_INTEGER_PATTERN.pattern)]
    if (integers.str.lstrip("+-").str.len() > MAX_INTEGER_DIGITS).any():
        return "longIntegers"
    return None


def _numbers(values: pd.Series) -> pd.Series:
    """Values (numbers, or number strings) as int64 when all are integers that fit, else float64."""
    if values.dtype == object:
        values = pd.to_numeric(values)
    if pd.api.types.is_integer_dtype(values.dtype):
        if len(values) and values.max() > np.iinfo(np.int64).max:
            return values.astype("float64")
        return values.astype("int64")
    return values.astype("float64")


def _numeric_fields(name: str, nums: pd.Series, counts: np.ndarray, tokens: pd.Series | None = None,
                    decl: _Declared | None = None) -> dict[str, Any]:
    """Rule 3 (and rule 2 for {0, 1}) for numbers with their row counts.

    `nums[i]` occurs `counts[i]` times; `tokens[i]` is its original spelling
    when the numbers were text.
    """
    decl = decl or _Declared.of(None)
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
    if decl.kind == ColumnKind.FLOAT:
        integral = False
    distinct = pd.unique(arr)
    u = len(distinct)
    if u == 2 and set(distinct.tolist()) == {0, 1} and decl.kind is None:
        is_true = arr == 1
        true_token = false_token = None
        if tokens is not None:
            true_token = _most_frequent(tokens[is_true], counts[is_true])
            false_token = _most_frequent(tokens[~is_true], counts[~is_true])
        return _boolean_fields(int(counts[is_true].sum()), n, true_token, false_token)
    if (integral and decl.kind is None and decl.identifier is None and _id_like_name(name) and u >= 2
            and u / n > IDENTIFIER_MIN_UNIQUE_RATIO):
        # all_integral tells coerce_to_schema to keep the integers of this identifier.
        return {"kind": ColumnKind.IDENTIFIER, "n_present": n, "n_unique": u, "all_integral": True,
                "warnings": ["idName"]}
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


def _datetime_fields(stamps: pd.Series, formats: list[tuple[str, int]] | None, n_present: int | None = None,
                     unparsed: int | None = None) -> dict[str, Any]:
    """min/max as ISO 8601 (dates alone when no format has a time).

    `stamps` are the non-null values of a datetime column, or the parsed
    distinct strings (NaT where they did not parse) with `n_present` rows of
    which `unparsed` did not parse.
    """
    date_only = bool(formats) and not any(code in f for f, _ in formats or [] for code in ("%H", "%M", "%S", "%f",
                                                                                         "%z", "%I"))
    valid = stamps.dropna()

    def iso(t: pd.Timestamp) -> str:
        return str(t.date().isoformat() if date_only else t.isoformat())

    codes = []
    names = {f for f, _ in formats or []}
    if names & DAY_FIRST and names & MONTH_FIRST:
        codes.append("ambiguousDayMonth")
    return {
        "kind": ColumnKind.DATETIME,
        "n_present": len(stamps) if n_present is None else n_present,
        "unparsed_count": unparsed,
        "n_unique": int(valid.nunique()),
        "min": iso(valid.min()) if len(valid) else None,
        "max": iso(valid.max()) if len(valid) else None,
        "format": formats[0][0] if formats else None,
        "formats": [FormatCount(format=f, count=c) for f, c in formats] if formats else None,
        "dtype": str(stamps.dtype),
        "warnings": codes,
    }


def _string_fields(name: str, counts: pd.Series, decl: _Declared, decimal_hint: str) -> dict[str, Any]:
    """Rules 2-5 for text: `counts` maps each distinct non-blank, stripped string to its number of rows."""
    declared_null = np.array([v in decl.null_values for v in counts.index], dtype=bool)
    null_values = [str(v) for v in counts.index[declared_null]]
    counts = counts[~declared_null]
    raw = pd.Series(counts.index, dtype=object)
    weights = counts.to_numpy()
    if int(weights.sum()) == 0:
        return {"kind": ColumnKind.EMPTY, "n_present": 0, "n_unique": 0, "null_values": null_values or None}
    # Typed readings (boolean, number, date) ignore the common null tokens ("?", "-", "N/A"): they are nulls there.
    token = raw.str.lower().isin(NULL_TOKENS).to_numpy()
    typed = _typed_fields(name, raw[~token].reset_index(drop=True), weights[~token], decl, decimal_hint)
    if typed is not None and "kind" in typed:
        found = sorted({str(v) for v in raw[token]}, key=lambda t: (-int(counts[t]), t))
        typed["null_values"] = (null_values + found) or None
        return typed
    fields = _text_kind_fields(name, counts, decl)
    fields["null_values"] = null_values or None
    fields["warnings"] = (typed or {}).get("warnings", [])
    return fields


def _typed_fields(name: str, stripped: pd.Series, weights: np.ndarray, decl: _Declared, decimal_hint: str
                  ) -> dict[str, Any] | None:
    """Rules 2-4 on the values that are not null tokens: boolean, number or date fields when one reads them.

    Returns None when the column is plainly text, or {"warnings": [...]} when
    it looked like numbers or dates but not enough of it parsed.
    """
    n = int(weights.sum())
    if n == 0 or decl.kind in (ColumnKind.CATEGORICAL, ColumnKind.TEXT, ColumnKind.IDENTIFIER):
        return None
    lower = stripped.str.lower()
    words = set(lower.unique()) if _at_most_distinct(lower, 2) else set()
    for true_word, false_word in BOOLEAN_PAIRS:
        if words == {true_word, false_word} or (decl.kind == ColumnKind.BOOLEAN and words and
                                                 words <= {true_word, false_word}):
            is_true = (lower == true_word).to_numpy()
            return _boolean_fields(int(weights[is_true].sum()), n, _most_frequent(stripped[is_true], weights[is_true]),
                                   _most_frequent(stripped[~is_true], weights[~is_true]))
    if decl.kind == ColumnKind.BOOLEAN:
        return _declared_boolean(lower, weights)
    warnings: list[str] = []
    if decl.kind in (None, ColumnKind.INTEGER, ColumnKind.FLOAT) and not decl.formats:
        spelling, rate = number_spelling(stripped, weights, decimal_hint, only=decl.spelling)
        if rate >= NUMBER_MIN_PARSED or (decl.kind is not None and rate > 0):
            clean = canonical_numbers(stripped, spelling)
            ok = clean.notna().to_numpy()
            if decl.kind == ColumnKind.INTEGER:  # declared integer: a fraction does not parse
                ok &= clean.str.fullmatch(r"[+-]?\d+(\.0*)?").fillna(False).to_numpy(dtype=bool)
            why = _kept_as_text(stripped[ok]) if spelling.thousands is None and decl.kind is None else None
            if why is None:
                fields = _numeric_fields(name, _numbers(clean[ok].reset_index(drop=True)), weights[ok],
                                         stripped[ok].reset_index(drop=True), decl)
                if fields["kind"] in (ColumnKind.INTEGER, ColumnKind.FLOAT):
                    unparsed = n - int(fields["n_present"])
                    marked = bool(stripped[ok].str.contains(spelling.decimal, regex=False).any())
                    fields.update(n_present=n, unparsed_count=unparsed or None,
                                  decimal=spelling.decimal if marked and spelling.decimal != "." else None,
                                  thousands=spelling.thousands, unit=spelling.unit,
                                  unit_first=spelling.unit_first or None)
                elif unparsed := n - int(fields["n_present"]):
                    fields.update(n_present=n, unparsed_count=unparsed)
                return fields
            warnings.append(why)
        elif rate >= FALLBACK_WARN_RATE:
            warnings.append("mostlyNumbers")
    if decl.kind in (None, ColumnKind.DATETIME):
        plausible = _date_plausible(stripped, weights)
        if decl.kind is not None or plausible >= FALLBACK_WARN_RATE:
            formats = _dated(stripped, weights, decl.formats)
            parsed_rows = sum(c for _, c in formats)
            if formats and (parsed_rows / n >= DATETIME_MIN_PARSED or decl.kind is not None):
                parsed = parse_dates(stripped, [f for f, _ in formats])
                return _datetime_fields(parsed, formats, n, (n - parsed_rows) or None)
            if parsed_rows / n >= FALLBACK_WARN_RATE:
                warnings.append("mostlyDates")
    return {"warnings": warnings} if warnings else None


def _declared_boolean(lower: pd.Series, weights: np.ndarray) -> dict[str, Any]:
    """Declared boolean: the words of `BOOLEAN_PAIRS` read, anything else is unparsed."""
    is_true = lower.isin(list(_TRUE_WORDS)).to_numpy()
    is_false = lower.isin(list(_FALSE_WORDS)).to_numpy()
    fields = _boolean_fields(int(weights[is_true].sum()), int(weights[is_true | is_false].sum()))
    unparsed = int(weights[~(is_true | is_false)].sum())
    fields.update(n_present=int(weights.sum()), unparsed_count=unparsed or None)
    return fields


def _dated(stripped: pd.Series, weights: np.ndarray, declared: tuple[str, ...]) -> list[tuple[str, int]]:
    """(format, rows) of a column's dates: the declared format, or the inferred mix (scored on a sample)."""
    sample, w = stripped.iloc[:DATETIME_SAMPLE], weights[:DATETIME_SAMPLE]
    if declared:
        return [(declared[0], int(weights[parse_date_format(stripped, declared[0]).notna().to_numpy()].sum()))]
    chosen = date_formats(sample, w)
    if len(sample) == len(stripped) or not chosen:
        return chosen
    # Counts over every value, each value in the first chosen format that reads it (as parse_dates does).
    rest = np.ones(len(stripped), dtype=bool)
    out = []
    for fmt, _ in chosen:
        hit = parse_date_format(stripped, fmt).notna().to_numpy() & rest
        rest &= ~hit
        if hit.any():
            out.append((fmt, int(weights[hit].sum())))
    return out


def _date_plausible(stripped: pd.Series, weights: np.ndarray) -> float:
    """Share of rows (of a sample) that could be a date at all: a digit, at most 40 characters."""
    sample, w = stripped.iloc[:DATETIME_SAMPLE], weights[:DATETIME_SAMPLE]
    ok = (sample.str.contains(r"\d") & (sample.str.len() <= 40)).to_numpy(dtype=bool)
    return float(w[ok].sum() / w.sum()) if w.sum() else 0.0


def _text_kind_fields(name: str, counts: pd.Series, decl: _Declared) -> dict[str, Any]:
    """Rule 5: categorical, text or identifier for strings that are not booleans, numbers or dates."""
    raw = pd.Series(counts.index, dtype=object)
    weights = counts.to_numpy()
    n = int(weights.sum())
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

    if decl.kind == ColumnKind.IDENTIFIER:
        return ident_fields
    if decl.kind == ColumnKind.TEXT:
        return text_fields
    if decl.kind == ColumnKind.CATEGORICAL:
        return {**common, **_categorical_fields(counts)}
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
    if col.null_values and _is_texty_dtype(s.dtype):
        text = _text_objects(s)
        s = text.mask(text.isin(col.null_values))
    if kind == ColumnKind.EMPTY:
        return pd.Series(np.nan, index=s.index, dtype="float64") if _is_numeric_dtype(s.dtype) else _as_string(s)
    if kind in (ColumnKind.INTEGER, ColumnKind.FLOAT) or (kind == ColumnKind.IDENTIFIER and col.all_integral):
        if _is_numeric_dtype(s.dtype):
            nums = s
        else:
            spelling = NumberSpelling.of(col.decimal, col.thousands, col.unit, col.unit_first)
            nums = pd.to_numeric(canonical_numbers(_text_objects(s), spelling), errors="coerce",
                                 dtype_backend="numpy_nullable")
        if kind == ColumnKind.FLOAT:
            return nums.astype("float64")
        if not pd.api.types.is_integer_dtype(nums.dtype):
            nums = nums.where(nums == nums.round())  # a declared integer column: fractions did not parse
        ints = nums.astype("Int64")
        return ints if ints.isna().any() else ints.astype("int64")
    if kind == ColumnKind.BOOLEAN:
        flags = _to_boolean(s)
        return flags if flags.isna().any() else flags.astype(bool)
    if kind == ColumnKind.DATETIME:
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            return s
        text = _text_objects(s)
        formats = [f.format for f in col.formats or []] or ([col.format] if col.format else [])
        return parse_dates(text, formats) if formats else pd.to_datetime(text, errors="coerce")
    if kind == ColumnKind.TEXT:
        return _as_string(s)
    return _as_string(_text_objects(s))  # categories and identifiers were counted without their padding


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
