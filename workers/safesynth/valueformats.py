"""How values are spelled in real exports: read them (for the schema) and write them back (for the output).

Spreadsheet and database exports write numbers with thousands separators
(`12,345`, European `12.345`), decimal commas (`1.234,5`), percent signs
(`45%`), dates in several formats within one column, nulls as `?`, `-` or
`N/A`, and pad cells with spaces. `safesynth.schema` decides, per column, which
spelling reads it (`number_spelling`, `date_formats`) and records the decision
in prepare/schema.json; `coerce_to_schema` parses with it (`parse_numbers`,
`parse_dates`), and the generate stage writes the synthetic CSV back in the
same spellings (`render_table`). All functions are pure: they take distinct
strings and their row counts (or a column) and never log or raise with a value.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

# Cells that mean "no value" in typed (number, date, boolean) columns, compared case-insensitively after
# stripping. In text and categorical columns they stay values: there "-" or "unknown" may be a real answer.
NULL_TOKENS: frozenset[str] = frozenset({
    "?", "??", "-", "--", "---", "\u2013", "\u2014", ".", "n/a", "na", "n.a.", "#n/a", "null", "none", "nan", "nil",
    "missing", "unknown", "not available", "#value!", "#div/0!", "#ref!", "#num!",
})

# Thousands separators written as spaces (French, SI): plain, no-break and narrow no-break.
_SPACES = " \u00a0\u202f"


@dataclass(frozen=True)
class NumberSpelling:
    """How one column writes its numbers: decimal mark, thousands separator (None: none) and a unit.

    `unit` is written after the number ("%", " kg", " downs") or, when
    `unit_first`, before it (a currency symbol: "$").
    """

    decimal: str = "."
    thousands: str | None = None
    unit: str | None = None
    unit_first: bool = False

    @classmethod
    def of(cls, decimal: str | None, thousands: str | None, unit: str | None, unit_first: bool | None = None
           ) -> NumberSpelling:
        """From schema.json's fields, where an unset decimal mark means "." unless "." separates thousands."""
        return cls(decimal or ("," if thousands == "." else "."), thousands, unit or None, bool(unit_first))

    @property
    def percent(self) -> bool:
        return (self.unit or "").strip() == "%"

    @property
    def plain(self) -> bool:
        return self.decimal == "." and self.thousands is None and not self.unit


# Candidate (decimal, thousands) pairs, tried in this order when the file's convention is the point (see
# `candidate_spellings`); a space separator stands for any of `_SPACES`.
_POINT_FIRST: tuple[tuple[str, str | None], ...] = (
    (".", None), (".", ","), (",", None), (",", "."), (",", " "), (".", " "), (".", "'"))
_COMMA_FIRST: tuple[tuple[str, str | None], ...] = (
    (",", None), (",", "."), (".", None), (".", ","), (",", " "), (".", " "), (".", "'"))

_CURRENCY = "$€£¥₹"
# A number with at most one unit: a currency symbol before it, or after it "%", a currency symbol, a word
# after a space ("37.00 downs", "12 kg") or a common unit written close ("12kg"). Codes such as "R-00123"
# keep their letters in the body and stay text.
_AFFIXED = re.compile(
    rf"(?P<pre>[{_CURRENCY}]\s?)?(?P<body>[^{_CURRENCY}%\s](?:.*?[^\s])??)"
    rf"(?P<suf>\s?%|\s?[{_CURRENCY}]|\s[A-Za-zµ°][A-Za-zµ°/²³.]{{0,11}}|(?:kg|mg|cm|mm|km|ml|lbs?|oz|hrs?|yrs?|min))?")


def candidate_spellings(decimal_hint: str = ".") -> tuple[tuple[str, str | None], ...]:
    """(decimal, thousands) pairs in the order ties are broken: the file's own decimal mark first.

    The hint matters only for columns every spelling reads, e.g. all values like
    `12.345`: a decimal 12.345 in a point file, twelve thousand in a comma file.
    """
    return _COMMA_FIRST if decimal_hint == "," else _POINT_FIRST


def number_regex(decimal: str, thousands: str | None) -> re.Pattern[str]:
    """The full-match pattern of a number in this spelling (sign, digits, optional fraction and exponent)."""
    d = re.escape(decimal)
    if thousands is None:
        body = rf"(\d+({d}\d*)?|{d}\d+)([eE][+-]?\d+)?"
    else:
        t = f"[{re.escape(_SPACES)}]" if thousands == " " else re.escape(thousands)
        body = rf"([1-9]\d{{0,2}}({t}\d{{3}})+|\d+)({d}\d+)?"
    return re.compile(rf"[+-]?{body}")


def split_units(values: pd.Series, weights: np.ndarray) -> tuple[pd.Series, str | None, bool]:
    """(the numbers' text without the column's unit, the unit, whether it comes first).

    The unit is the most frequent one when at least half the rows carry it;
    values with another unit keep it (so they do not parse), values with
    none are read as they are (e.g. "0" beside "12%").
    """
    parts = values.str.extract(_AFFIXED.pattern.join(("^(?:", ")$")))
    pre, suf = parts["pre"].fillna(""), parts["suf"].fillna("")
    key = pre.str.strip() + "\x1f" + suf
    keyed = pd.Series(weights, index=key.to_numpy()).groupby(level=0, sort=True).sum()
    best = str(keyed.idxmax()) if len(keyed) else "\x1f"
    unit_pre, unit_suf = best.split("\x1f")
    total = float(weights.sum()) or 1.0
    if best == "\x1f" or float(keyed[best]) / total < 0.5:
        return values, None, False
    own = (key == best) | (key == "\x1f")
    body = parts["body"].where(own & parts["body"].notna(), values)
    unit = unit_pre or unit_suf
    return body.astype(object), unit, bool(unit_pre)


def number_spelling(stripped: pd.Series, weights: np.ndarray, decimal_hint: str = ".",
                    only: NumberSpelling | None = None) -> tuple[NumberSpelling, float]:
    """The spelling that reads the most rows of these distinct strings, and the share of rows it reads.

    `only` restricts the choice to a declared spelling (its unit is still
    taken from the data). Ties go to the earlier candidate, except that
    a separator always followed by three digits, in a column that also holds
    plain integers, is a thousands separator (`_grouped`).
    """
    body, unit, unit_first = split_units(stripped, weights)
    if only is not None and not only.unit and unit is None:
        unit, unit_first = None, False
    total = float(weights.sum()) or 1.0
    pairs = ((only.decimal, only.thousands),) if only is not None else candidate_spellings(decimal_hint)
    rates = {}
    for decimal, thousands in pairs:
        ok = body.str.fullmatch(number_regex(decimal, thousands).pattern).to_numpy(dtype=bool)
        rates[(decimal, thousands)] = float(weights[ok].sum()) / total
    best_rate = max(rates.values())
    tied = [p for p in pairs if rates[p] == best_rate]
    for sep in (",", "."):
        if any(p[1] == sep for p in tied) and any(p[0] == sep for p in tied) and _grouped(body, sep):
            tied = [p for p in tied if p[0] != sep]
    return NumberSpelling(*tied[0], unit, unit_first), best_rate


# A separator is read as grouping when at least this many distinct values use it (always before three digits)
# and some value is a plain integer: a writer of decimals would have trimmed a trailing zero somewhere among
# them (all 20 with three non-zero-ending decimals: 0.9**20, about 12%, and a plain integer besides is rarer).
MIN_GROUPED_VALUES = 20


def _grouped(body: pd.Series, sep: str) -> bool:
    """Whether `sep` reads as a thousands separator in a column every candidate reads: "850" beside "12,345"."""
    with_sep = body[body.str.contains(sep, regex=False)]
    plain_integer = body.str.fullmatch(r"[+-]?\d+").any()
    return bool(plain_integer and with_sep.nunique() >= MIN_GROUPED_VALUES)


def canonical_numbers(strings: pd.Series, spelling: NumberSpelling) -> pd.Series:
    """Stripped strings -> plain decimal strings ("1.234,5" -> "1234.5"), None where not a number in this spelling.

    Strings, not floats, so integers beyond 2**53 stay exact for pandas to read.
    """
    obj = strings.astype(object)
    present = obj.notna()
    body = _without_unit(obj.where(present, "").astype(str), spelling)
    ok = present & body.str.fullmatch(number_regex(spelling.decimal, spelling.thousands).pattern)
    text = body
    if spelling.thousands is not None:
        sep = f"[{re.escape(_SPACES)}]" if spelling.thousands == " " else re.escape(spelling.thousands)
        text = text.str.replace(sep, "", regex=True)
    if spelling.decimal != ".":
        text = text.str.replace(spelling.decimal, ".", regex=False)
    return text.where(ok, None).astype(object)


def _without_unit(values: pd.Series, spelling: NumberSpelling) -> pd.Series:
    """Values with the column's unit taken off (where they carry it), for parsing."""
    if not spelling.unit:
        return values
    unit = re.escape(spelling.unit.strip())
    pattern = rf"^{unit}\s?" if spelling.unit_first else rf"\s?{unit}$"
    return values.str.replace(pattern, "", regex=True)


def parse_numbers(strings: pd.Series, spelling: NumberSpelling) -> pd.Series:
    """Stripped strings -> float64 (NaN where a value is not a number in this spelling)."""
    return pd.to_numeric(canonical_numbers(strings, spelling), errors="coerce").astype("float64")


# ------------------------------------------------------------------ dates

# Tried in this order: a tie goes to the earlier format, so ISO and US month-first win over day-first.
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
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%y",
    "%d/%m/%Y",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%y",
    "%d.%m.%Y",
    "%d.%m.%Y %H:%M",
    "%d.%m.%y",
    "%d-%m-%Y",
    "%d-%b-%Y",
    "%d-%b-%y",
    "%d %b %Y",
    "%d %B %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%b %d %Y",
    "%d %B, %Y",
    "%Y%m%d",
)
# At most this many formats in one column: more is not a date column but a mess.
MAX_DATE_FORMATS = 4
# Day-first and month-first slash formats: together in one column, "01/02/2020" is ambiguous.
DAY_FIRST = frozenset({"%d/%m/%Y", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%y"})
MONTH_FIRST = frozenset({"%m/%d/%Y", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %I:%M %p",
                         "%m/%d/%Y %I:%M:%S %p", "%m/%d/%y"})


def parse_date_format(strings: pd.Series, fmt: str, utc: bool = False) -> pd.Series:
    """Strings -> datetimes with exactly `fmt` (NaT where they do not match); offsets become UTC."""
    return pd.to_datetime(strings, format=fmt, errors="coerce", utc=utc or "%z" in fmt)


def date_formats(stripped: pd.Series, weights: np.ndarray, candidates: Sequence[str] = DATETIME_FORMATS
                 ) -> list[tuple[str, int]]:
    """The formats that read these distinct strings, as (format, rows), most rows first.

    Greedy: the format reading the most rows (ties: the earlier one), then the
    one reading the most of the rest, up to `MAX_DATE_FORMATS`, each reading
    at least one value no earlier format reads. So a column of ISO dates gets
    one format and "01/02/2020" reads month-first unless a value like
    "25/12/2020" shows day-first (then both are listed and flagged ambiguous).
    """
    rest = np.ones(len(stripped), dtype=bool)
    chosen: list[tuple[str, int]] = []
    parsed = {fmt: parse_date_format(stripped, fmt).notna().to_numpy() for fmt in candidates}
    while len(chosen) < MAX_DATE_FORMATS and rest.any():
        best, best_rows = None, 0
        for fmt in candidates:
            rows = int(weights[parsed[fmt] & rest].sum())
            if rows > best_rows:
                best, best_rows = fmt, rows
        if best is None:
            break
        chosen.append((best, best_rows))
        rest &= ~parsed[best]
    return chosen


def parse_dates(strings: pd.Series, formats: Sequence[str]) -> pd.Series:
    """Each value with the first of `formats` that reads it; NaT where none does.

    When any format carries an offset the whole column is UTC (naive values are
    taken as UTC), so one column holds one kind of timestamp.
    """
    utc = any("%z" in f for f in formats)
    out = pd.Series(pd.NaT, index=strings.index, dtype="datetime64[ns, UTC]" if utc else "datetime64[ns]")
    todo = strings.notna()
    for fmt in formats:
        if not todo.any():
            break
        got = parse_date_format(strings[todo], fmt, utc=utc)
        hit = got.notna()
        if hit.any():
            idx = got.index[hit]
            if len(formats) == 1:
                return got.reindex(strings.index)
            out.loc[idx] = got[hit].astype(out.dtype)
            todo.loc[idx] = False
    return out


# -------------------------------------------------------------- rendering


def render_number(x: float, spelling: NumberSpelling, integral: bool) -> str:
    """One number written in a column's spelling, e.g. 1234.5 -> "1.234,5" or 45 -> "45%"."""
    if integral:
        text = str(int(x))
    else:
        text = np.format_float_positional(np.float64(x), unique=True, trim="-")
    sign = "-" if text.startswith("-") else ""
    whole, _, frac = text.lstrip("-").partition(".")
    if spelling.thousands is not None:
        sep = spelling.thousands
        groups: list[str] = []
        while len(whole) > 3:
            whole, groups = whole[:-3], [whole[-3:], *groups]
        whole = sep.join([whole, *groups])
    out = whole + (spelling.decimal + frac if frac else "")
    if spelling.unit and spelling.unit_first:
        return sign + spelling.unit + out
    return sign + out + (spelling.unit or "")


def render_dates(stamps: pd.Series, formats: Sequence[tuple[str, int]], rng: np.random.Generator) -> pd.Series:
    """Datetimes written in the column's mix of formats: each row draws a format with its share of rows."""
    names = [f for f, _ in formats]
    counts = np.array([c for _, c in formats], dtype=float)
    pick = rng.choice(len(names), size=len(stamps), p=counts / counts.sum()) if len(names) > 1 else \
        np.zeros(len(stamps), dtype=int)
    out = pd.Series([None] * len(stamps), index=stamps.index, dtype=object)
    for i, fmt in enumerate(names):
        rows = (pick == i) & stamps.notna().to_numpy()
        if rows.any():
            out[rows] = stamps[rows].dt.strftime(fmt)
    return out


def _spelling_of(col: Mapping[str, Any]) -> NumberSpelling | None:
    spelling = NumberSpelling.of(col.get("decimal"), col.get("thousands"), col.get("unit"), col.get("unit_first"))
    return None if spelling.plain else spelling


def render_table(df: pd.DataFrame, schema: Mapping[str, Any], seed: int) -> pd.DataFrame:
    """A typed table (prepare's dtypes) written back in the spellings its source used, for the output CSV.

    Reads each column's `decimal`, `thousands`, `unit` and `formats` from a
    schema.json dict; columns without them (or not in it) are left as they
    are. Seeded: the same table and seed give the same spellings.
    """
    cols = {c.get("name"): c for c in schema.get("columns", []) if isinstance(c, Mapping)}
    rng = np.random.default_rng(seed)
    out = df.copy()
    for name in df.columns:
        col = cols.get(str(name))
        if col is None:
            continue
        s = df[name]
        spelling = _spelling_of(col)
        if spelling is not None and pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
            integral = col.get("kind") == "integer"
            out[name] = pd.Series([None if _missing(v) else render_number(float(v), spelling, integral)
                                   for v in s.tolist()], index=s.index, dtype=object)
        formats = [(f["format"], int(f["count"])) for f in col.get("formats") or [] if isinstance(f, Mapping)]
        plain_iso = len(formats) == 1 and formats[0][0] == "%Y-%m-%d"
        if formats and not plain_iso and pd.api.types.is_datetime64_any_dtype(s.dtype):
            out[name] = render_dates(s, formats, rng)
    return out


def _missing(v: Any) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))
