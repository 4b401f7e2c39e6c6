"""Derived columns: found in the training rows, recomputed in the generated rows.

Why a recompute after generation. The language model writes each field as
digits, one token after another. It learns a column's distribution well, but
it cannot be trusted with calendar arithmetic: on the quickstart table an
age written next to a birth date and a test date agreed with them (±1 year)
in about half of the generated rows, against every real row, and the
detection classifier found the table by exactly that. SDV and Gretel call
these relations constraints (SDV's `Inequality`, `ScalarRange`, custom
"formula" constraints); they, too, enforce them outside the model. Here a
small, explicit family of relations is searched, never column names:

- `years_between`: whole years from a start to an end datetime, calendar
  rule: `end.year − start.year`, minus one when (month, day) of the end is
  before (month, day) of the start (the birthday has not passed; a 29
  February start counts as passed on 1 March in other years). Time of day
  is ignored. An age at a visit, years of service, …
- `days_between`: calendar days from a start to an end datetime,
  `end.normalize() − start.normalize()`. A length of stay, a delay, …
- `sum`: a numeric column equal to the sum of two other numeric columns.

A relation is kept (`find_rules`) when, over the rows where the derived
column and every input are non-null (at least MIN_ROWS of them):
- the derived column agrees with the computed value within the rule's
  tolerance in at least AGREE_SHARE of rows. The tolerance is 0, except for
  `years_between`, where it may be 1 year: the PII stage shifts birth dates
  by up to ±180 days, so a real age is off by one near a birthday;
- it agrees exactly in at least MIN_EXACT_SHARE of rows (a ±1 shift moves a
  quarter of ages at most, so real ages stay exact in about ¾ of rows);
- the same comparison against a shuffled copy of the derived column agrees
  in at most MAX_CHANCE_SHARE of rows: a relation must explain the column,
  not merely fit a column whose range is as narrow as the tolerance (a 0/1
  flag is within ±1 of any short interval in years);
- neither the derived column nor the computed value is constant there.
A reference date fixed outside the table ("age today") is never assumed:
each input is a column of the table.

What `apply_rules` guarantees: in every generated row where the inputs and
the derived cell are non-null, the derived cell lies within the rule's
tolerance of the value computed from the generated inputs (then clipped to
the training range). Cells already within the tolerance are kept, so the
off-by-one share the model learned survives; cells outside it are replaced
by the computed value, except for `years_between` when the start column
comes before the derived one: then the derived cell is kept and the start's
year moves (`_moves_start_year` says why). Where an input is null nothing is computed and the
generated cell is kept; a null derived cell stays null. The relations are
acyclic: a derived column is never an input of another rule, so the rules
apply in any order.

Privacy: not DP-safe: detection reads the rows (which relations hold, how
often, and the derived column's exact min/max). Use it when DP is off, or
with rules declared up front. Applying stored rules to generated rows
reads nothing private.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import combinations, permutations
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from safesynth.generator.column_info import NUMERIC_KINDS

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["AGREE_SHARE", "MAX_CHANCE_SHARE", "MIN_EXACT_SHARE", "MIN_ROWS", "RELATIONS", "DerivedRule",
           "apply_rules", "find_rules"]

YEARS_BETWEEN, DAYS_BETWEEN, SUM = "years_between", "days_between", "sum"
RELATIONS = (YEARS_BETWEEN, DAYS_BETWEEN, SUM)  # also the preference order between equally good rules

MIN_ROWS = 50  # complete rows a relation is measured on; fewer and one stray row moves the share by 2 %
AGREE_SHARE = 0.98  # rows within the tolerance; leaves room for a few typos in real data
MIN_EXACT_SHARE = 0.5  # rows agreeing exactly; a ±1-year tolerance must still be the exception
MAX_CHANCE_SHARE = 0.5  # rows a shuffled derived column agrees with: above it the relation explains nothing
YEARS_TOLERANCES = (0.0, 1.0)  # years: exact, else ±1 (birth dates shifted by the PII stage)
SCAN_ROWS = 20_000  # rows searched (a seeded sample beyond it); the shares are estimates, the cost is linear
PREFILTER_ROWS = 256  # sum search: a pair must nearly hold on these rows before it is measured on all
MAX_SUM_COLUMNS = 60  # the sum search is cubic in numeric columns; wider tables skip it
_REL_EPS = 1e-9  # float sums: |a + b − c| within this share of max(1, |c|) counts as equal


@dataclass(frozen=True)
class DerivedRule:
    """`derived` = relation(*inputs), measured on the training rows; JSON-able (stored in the bundle's meta).

    inputs: (start, end) for years_between and days_between; (a, b) for sum.
    tolerance: generated cells within this distance of the computed value are kept (years: 0 or 1).
    agree_share, exact_share: shares of the `rows` complete training rows within the tolerance / equal.
    minimum, maximum: the derived column's observed range; recomputed values are clipped to it.
    decimals: digits a float result is rounded to (the derived column's, at most 6); None for integers.
    """

    relation: str
    derived: str
    inputs: tuple[str, ...]
    tolerance: float
    agree_share: float
    exact_share: float
    rows: int
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    decimals: Optional[int] = None

    def __post_init__(self) -> None:
        if self.relation not in RELATIONS:
            raise ValueError(f"unknown relation {self.relation!r}; expected one of {', '.join(RELATIONS)}")
        if len(self.inputs) != 2 or self.derived in self.inputs:
            raise ValueError("a derived rule needs two inputs, neither of them the derived column")

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["inputs"] = list(self.inputs)
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> "DerivedRule":
        return cls(**{**obj, "inputs": tuple(obj["inputs"])})


# ----------------------------------------------------------------------------------------------- computing


def _dates(values: "pd.Series") -> "pd.Series":
    """Datetimes at wall-clock time (a time zone is dropped, not converted); unparseable cells are NaT."""
    import pandas as pd

    if not pd.api.types.is_datetime64_any_dtype(values):
        values = pd.to_datetime(values.astype("string"), errors="coerce", format="mixed")
    if getattr(values.dt, "tz", None) is not None:
        values = values.dt.tz_localize(None)
    return values


def _numbers(values: "pd.Series") -> np.ndarray:
    import pandas as pd

    return np.array(pd.to_numeric(values, errors="coerce").astype("float64"), dtype="float64")


def years_between(start: "pd.Series", end: "pd.Series") -> np.ndarray:
    """Whole years from start to end (calendar rule, see the module docstring); NaN where either is missing."""
    s, e = _dates(start), _dates(end)
    before = (e.dt.month * 100 + e.dt.day) < (s.dt.month * 100 + s.dt.day)
    years: np.ndarray = np.asarray(e.dt.year - s.dt.year, dtype="float64") - np.asarray(before, dtype="float64")
    years[(s.isna() | e.isna()).to_numpy()] = np.nan
    return years


def days_between(start: "pd.Series", end: "pd.Series") -> np.ndarray:
    """Calendar days from start to end; NaN where either is missing."""
    s, e = _dates(start), _dates(end)
    return np.asarray((e.dt.normalize() - s.dt.normalize()).dt.days, dtype="float64")


def compute(rule: DerivedRule, df: "pd.DataFrame") -> np.ndarray:
    """The derived value per row from the rule's inputs (unclipped, unrounded); NaN where an input is null."""
    a, b = (df[c] for c in rule.inputs)
    if rule.relation == YEARS_BETWEEN:
        return years_between(a, b)
    if rule.relation == DAYS_BETWEEN:
        return days_between(a, b)
    total: np.ndarray = _numbers(a) + _numbers(b)
    return total


def _close(x: np.ndarray, y: np.ndarray, tolerance: float) -> np.ndarray:
    close: np.ndarray = np.abs(x - y) <= tolerance + _REL_EPS * np.maximum(1.0, np.abs(y))
    return close


# ----------------------------------------------------------------------------------------------- finding


@dataclass(frozen=True)
class _Fit:
    tolerance: float
    agree: float
    exact: float
    rows: int


def _fit(target: np.ndarray, computed: np.ndarray, tolerances: tuple[float, ...], perm: np.ndarray) -> Optional[_Fit]:
    """The smallest tolerance under which `target` follows `computed` by every test of the module docstring."""
    ok = ~np.isnan(target) & ~np.isnan(computed)
    n = int(ok.sum())
    if n < MIN_ROWS:
        return None
    y, x = target[ok], computed[ok]
    if np.unique(y).size < 2 or np.unique(x).size < 2:
        return None
    exact = float(_close(y, x, 0.0).mean())
    if exact < MIN_EXACT_SHARE:
        return None
    shuffled = y[perm[perm < n]]  # perm spans the scanned rows (≥ n): its entries below n permute y
    for tol in tolerances:
        agree = float(_close(y, x, tol).mean())
        if agree >= AGREE_SHARE:
            chance = float(_close(shuffled, x, tol).mean())
            return _Fit(tol, agree, exact, n) if chance <= MAX_CHANCE_SHARE else None
    return None


def _decimals(values: np.ndarray) -> int:
    for d in range(7):
        if np.all(np.abs(np.round(values, d) - values) <= 1e-9 * np.maximum(1.0, np.abs(values))):
            return d
    return 6


def _rule(relation: str, derived: str, inputs: tuple[str, ...], fit: _Fit, df: "pd.DataFrame",
          kinds: dict[str, str]) -> DerivedRule:
    values = _numbers(df[derived])
    values = values[~np.isnan(values)]
    return DerivedRule(relation=relation, derived=derived, inputs=inputs, tolerance=fit.tolerance,
                       agree_share=round(fit.agree, 6), exact_share=round(fit.exact, 6), rows=fit.rows,
                       minimum=float(values.min()), maximum=float(values.max()),
                       decimals=_decimals(values) if kinds[derived] == "float" else None)


def _date_candidates(df: "pd.DataFrame", kinds: dict[str, str], numeric: dict[str, np.ndarray],
                     perm: np.ndarray) -> list[DerivedRule]:
    dates = [c for c in df.columns if kinds.get(str(c)) == "datetime"]
    found = []
    for start, end in permutations(dates, 2):
        computed = {YEARS_BETWEEN: years_between(df[start], df[end]), DAYS_BETWEEN: days_between(df[start], df[end])}
        for name, target in numeric.items():
            for relation, values in computed.items():
                tolerances = YEARS_TOLERANCES if relation == YEARS_BETWEEN else (0.0,)
                fit = _fit(target, values, tolerances, perm)
                if fit is not None:
                    found.append(_rule(relation, name, (str(start), str(end)), fit, df, kinds))
    return found


def _sum_candidates(df: "pd.DataFrame", kinds: dict[str, str], numeric: dict[str, np.ndarray],
                    perm: np.ndarray) -> list[DerivedRule]:
    names = list(numeric)
    if len(names) < 3 or len(names) > MAX_SUM_COLUMNS:
        return []
    matrix = np.column_stack([numeric[c] for c in names])
    head = matrix[:PREFILTER_ROWS]
    found = []
    for i, j in combinations(range(len(names)), 2):
        # Prefilter: on the first rows, the share of complete rows where the sum holds, for every target at once.
        total = head[:, i] + head[:, j]
        complete = ~np.isnan(head) & ~np.isnan(total)[:, None]
        hits = (_close(head, total[:, None], 0.0) & complete).sum(axis=0)
        seen = complete.sum(axis=0)
        for k in np.flatnonzero(hits >= AGREE_SHARE * np.maximum(seen, 1) - 1):
            if k in (i, j):
                continue
            fit = _fit(matrix[:, k], matrix[:, i] + matrix[:, j], (0.0,), perm)
            if fit is not None and _varies(matrix[:, i], matrix[:, j], matrix[:, k]):
                found.append(_rule(SUM, names[k], (names[i], names[j]), fit, df, kinds))
    return found


def _varies(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> bool:
    """Both parts vary over the complete rows (a part that never changes makes the sum a copy plus a constant)."""
    ok = ~np.isnan(a) & ~np.isnan(b) & ~np.isnan(c)
    return bool(np.unique(a[ok]).size > 1 and np.unique(b[ok]).size > 1)


def _acyclic(candidates: list[DerivedRule], order: dict[str, int]) -> list[DerivedRule]:
    """Best rule first (smaller tolerance, more exact rows, more agreeing rows, relation, column order);
    a rule is kept unless its column is already derived or an input, or an input of it is derived."""

    def key(r: DerivedRule) -> tuple[Any, ...]:
        return (r.tolerance, -r.exact_share, -r.agree_share, RELATIONS.index(r.relation), order[r.derived],
                *(order[c] for c in r.inputs))

    kept: list[DerivedRule] = []
    derived: set[str] = set()
    inputs: set[str] = set()
    for rule in sorted(candidates, key=key):
        if rule.derived in derived or rule.derived in inputs or derived.intersection(rule.inputs):
            continue
        kept.append(rule)
        derived.add(rule.derived)
        inputs.update(rule.inputs)
    return sorted(kept, key=lambda r: order[r.derived])


def find_rules(df: "pd.DataFrame", kinds: dict[str, str]) -> list[DerivedRule]:
    """Derived columns of the training table, at most one rule each, acyclic; ordered by column.

    Only integer and float columns are derived; only datetime columns feed the
    date relations and only numeric columns the sums. Not DP-safe: it reads the rows.
    """
    if len(df) > SCAN_ROWS:
        idx = np.sort(np.random.default_rng(0).choice(len(df), SCAN_ROWS, replace=False))
        df = df.iloc[idx]
    df = df.reset_index(drop=True)
    numeric = {str(c): _numbers(df[c]) for c in df.columns if kinds.get(str(c)) in NUMERIC_KINDS}
    perm = np.random.default_rng(0).permutation(len(df))
    candidates = _date_candidates(df, kinds, numeric, perm) + _sum_candidates(df, kinds, numeric, perm)
    order = {str(c): i for i, c in enumerate(df.columns)}
    return _acyclic(candidates, order)


# ----------------------------------------------------------------------------------------------- applying


def apply_rules(df: "pd.DataFrame", rules: list[DerivedRule]) -> tuple["pd.DataFrame", dict[str, int]]:
    """Generated table with each derived column made to follow its rule; cells changed per derived column.

    Rules whose columns the table lacks are skipped (and not counted). The
    input frame is not modified; the derived column keeps its dtype.
    """
    import pandas as pd

    out = df.copy()
    changed: dict[str, int] = {}
    for rule in rules:
        if any(c not in out.columns for c in (rule.derived, *rule.inputs)):
            continue
        generated = _numbers(out[rule.derived])
        computed = _clip(compute(rule, out), rule)
        shared = any(rule.inputs[0] in other.inputs for other in rules if other is not rule)
        if not shared and _moves_start_year(rule, out):
            out[rule.inputs[0]], changed[rule.inputs[0]] = _start_year_moved(out, rule, generated)
            clipped = ~np.isnan(generated) & ~_close(_clip(generated, rule), generated, 0.0)
            if clipped.any():  # a derived cell outside its training range is clipped, as a recomputed one is
                out[rule.derived] = _written(out[rule.derived], np.flatnonzero(clipped),
                                             _clip(generated, rule)[clipped], pd)
                changed[rule.derived] = int(clipped.sum())
            continue
        target = np.where(_close(generated, computed, rule.tolerance), generated, computed)
        target = _clip(target, rule)
        if rule.decimals is not None:
            target = np.round(target, rule.decimals)
        mask = ~np.isnan(generated) & ~np.isnan(computed) & ~_close(target, generated, 0.0)
        changed[rule.derived] = int(mask.sum())
        if mask.any():
            out[rule.derived] = _written(out[rule.derived], np.flatnonzero(mask), target[mask], pd)
    return out, changed


def _moves_start_year(rule: DerivedRule, df: "pd.DataFrame") -> bool:
    """Whether a years_between row is mended by moving the start's year rather than rewriting the derived cell.

    Of the two columns that can give way, the one the model wrote first gives way: the model writes a row's
    columns in table order, so the later one was written knowing more of the row. On the quickstart the birth
    date comes first and the age after the test date: the model's ages followed the test week (real ages rise
    from 8 to 21 between March and June), its birth dates did not, and rewriting the ages from the birth
    dates threw that away (detection AUC 0.652 against 0.608 with the birth year moved, on one trained
    model). Moving a year keeps the start's month and day, the part the relation leaves free. Only for a
    start column of datetimes whose derived cells are whole numbers, and (the caller checks) a start that
    no other rule reads: moving it would break a rule already applied."""
    import pandas as pd

    start = rule.inputs[0]
    columns = list(df.columns)
    return (rule.relation == YEARS_BETWEEN and columns.index(start) < columns.index(rule.derived)
            and pd.api.types.is_datetime64_any_dtype(df[start]) and getattr(df[start].dt, "tz", None) is None)


def _start_year_moved(df: "pd.DataFrame", rule: DerivedRule, generated: np.ndarray) -> tuple["pd.Series", int]:
    """The start column with its year moved wherever the generated derived cell (kept, clipped to its training
    range) is off by more than the tolerance, so that whole years from start to end equal it; cells changed.
    A 29 February start lands on 28 February in a common year (one day: within the years tolerance or exact)."""
    import pandas as pd

    start = df[rule.inputs[0]]
    kept = _clip(generated, rule)
    computed = compute(rule, df)
    shift = computed - np.round(kept)
    mask = ~np.isnan(kept) & ~np.isnan(computed) & ~_close(np.round(kept), computed, rule.tolerance)
    out = start.copy()
    for years in np.unique(shift[mask]).astype(int):
        rows = mask & (shift == years)
        out[rows] = start[rows] + pd.DateOffset(years=int(years))
    return out, int(mask.sum())


def _clip(values: np.ndarray, rule: DerivedRule) -> np.ndarray:
    lo = -np.inf if rule.minimum is None else rule.minimum
    hi = np.inf if rule.maximum is None else rule.maximum
    return np.asarray(np.clip(values, lo, hi), dtype="float64")


def _written(column: "pd.Series", rows: np.ndarray, values: np.ndarray, pd: Any) -> "pd.Series":
    """`column` with `values` at positions `rows`, in the column's own dtype (text columns get the digits)."""
    out = column.copy()
    dtype = column.dtype
    if pd.api.types.is_integer_dtype(dtype):
        out.iloc[rows] = np.round(values).astype("int64")
    elif pd.api.types.is_float_dtype(dtype):
        out.iloc[rows] = values
    else:
        out.iloc[rows] = [str(int(v)) if float(v).is_integer() else repr(float(v)) for v in values]
    return out
