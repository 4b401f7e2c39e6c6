"""Grouped records (spec.data.groupBy / orderBy): an entity's rows <-> one context row per row.

Why context rows and not one long sequence per entity: the generator is a row
language model with a grammar per column (grammar.py) and a validator per row;
writing each row with its entity's context in front keeps all of that, keeps
training examples short (a 16-visit patient is 16 rows of ~35 fields, not one
sequence of 500), and lets generation go row by row with the context *forced*
(sampling.py's forced fields) instead of sampled. Long entities need no chunking:
every row carries its entity's columns, its position and the previous row,
which is the "carried context" between chunks. What it does not see is the
row before the previous one (a lag-1, Markov view of the series).

A context row, in layout order (the order the model writes):

    _ss_pos | _ss_rows | static columns | _ss_start | _ss_gap | _ss_prev_<v1> v1 | _ss_prev_<v2> v2 ...

(bundles made before `EntityLayout.rows_first` have _ss_rows after _ss_start and keep that order).

Each previous value sits right before the value it precedes: measured on
pbcseq, with all previous values in one block ~50 tokens before the values,
the small model learned no lag-1 dependence at all (synthetic r ~ 0 against
0.84 real for bilirubin); next to each other, the dependence is a short-range
pattern the model does learn. The sampler forces fields wherever they sit
(sampling.py, `forced`), so forced and sampled fields may interleave.

- `_ss_pos`: the row's position in its entity (0-based);
- static columns: those constant within at least STATIC_SHARE of the entities
  (sex, date of birth, treatment arm); the entity's first row's value is
  written on every row, so a generated entity holds one value by construction;
- `_ss_start`: the entity's first orderBy value, `_ss_rows`: its row count.
  Generation draws the count from the training entities' histogram of row
  counts (a DP release under privacy) and forces it on the first row too:
  left to the model, the count came out length-biased (mean 8 rows against 6.2
  real on pbcseq), because most training rows belong to long entities and the
  small model did not condition the count on position 0. It comes right after
  the position, so the entity-level columns are written knowing it: with the
  count after them, a patient's follow-up time was written before the count
  forced on it and the two came out unrelated;
- `_ss_prev_<v>`: the previous row's value of each varying column (null on
  the first row), `_ss_gap`: orderBy minus the previous row's (null on the
  first row; dates in whole days when every gap is whole days, else seconds);
- varying columns: the rest, without the keys and orderBy.
Generated rows are put back (`from_context_rows`) with orderBy = start + the
running sum of gaps, so rows are in order whenever gaps are >= 0 (the
column's bounds, learned from real gaps that are never negative).

Entity keys are structural: they are not learned, and generated entities get
fresh keys (1, 2, ... for integer keys, "entity-000001" otherwise).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Optional, Sequence

import numpy as np

from safesynth.errors import BadInputError

if TYPE_CHECKING:
    import pandas as pd

    from safesynth.generator.column_info import ColumnInfo

PREFIX = "_ss_"
POS, START, ROWS, GAP = "_ss_pos", "_ss_start", "_ss_rows", "_ss_gap"
PREV = "_ss_prev_"
STATIC_SHARE = 0.99  # a column constant within this share of multi-row entities is an entity-level column
LAG_KINDS = frozenset({"integer", "float", "categorical", "boolean", "datetime"})  # free text is not carried
DAY_S = 86_400.0


@dataclass
class EntityLayout:
    """How a grouped table maps to context rows; stored in the model bundle's meta (JSON)."""

    keys: list[str]
    order_by: Optional[str]
    order_kind: Optional[str]  # integer | float | datetime
    gap_unit: str  # "days" | "seconds" | "" (numbers: the orderBy's own unit)
    static: list[str]
    varying: list[str]
    lagged: list[str]
    columns: list[str]  # the original table's column order
    key_kinds: dict[str, str] = field(default_factory=dict)  # key column -> "integer" | "string"
    max_rows: int = 64
    order_dtype: str = ""
    # The row count right after the position, before the entity-level columns: the model then writes those
    # (follow-up time, outcome) knowing how many rows the entity has, which generation draws from the
    # length histogram and forces. False: bundles made before (row count after the static columns).
    rows_first: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> "EntityLayout":
        return cls(**obj)

    @property
    def context_columns(self) -> list[str]:
        """The context row's columns in layout order: each lagged column right before its column."""
        start = [START] if self.order_by else []
        gap = [GAP] if self.order_by else []
        lagged = set(self.lagged)
        body = [name for c in self.varying for name in ([PREV + c, c] if c in lagged else [c])]
        if self.rows_first:
            return [POS, ROWS, *self.static, *start, *gap, *body]
        return [POS, *self.static, *start, ROWS, *gap, *body]

    @property
    def first_row_nulls(self) -> list[str]:
        """Columns null on every entity's first row (no previous row): forced there too."""
        return [*([GAP] if self.order_by else []), *[PREV + c for c in self.lagged]]

    @property
    def forced_columns(self) -> list[str]:
        """Columns written from the entity's context on every row after its first: position, static columns,
        start, row count (the first row's) and the previous row's values."""
        start = [START] if self.order_by else []
        return [POS, *self.static, *start, ROWS, *[PREV + c for c in self.lagged]]


def check_names(columns: Sequence[str]) -> None:
    """Exit 2 when a real column uses the reserved prefix (its context column would collide)."""
    clash = [c for c in columns if str(c).startswith(PREFIX)]
    if clash:
        raise BadInputError(f"column {clash[0]!r}: names starting with {PREFIX!r} are reserved for grouped "
                            "records (spec.data.groupBy); rename the column")


def entity_ids(df: "pd.DataFrame", keys: Sequence[str]) -> np.ndarray:
    """An integer id per row, one per distinct key tuple (in order of first appearance); nulls are an error."""
    missing = {k: int(df[k].isna().sum()) for k in keys if df[k].isna().any()}
    if missing:
        col, n = next(iter(missing.items()))
        raise BadInputError(f"spec.data.groupBy: column {col!r} is empty in {n} row(s); every row needs its "
                            "entity key: fill or drop those rows")
    codes, _ = _factorize(df, keys)
    return codes


def _factorize(df: "pd.DataFrame", keys: Sequence[str]) -> tuple[np.ndarray, int]:
    import pandas as pd

    if len(keys) == 1:
        codes, uniques = pd.factorize(df[keys[0]], sort=False)
        return codes.astype(np.int64), len(uniques)
    joined = df[list(keys)].astype(str).agg("\x1f".join, axis=1)
    codes, uniques = pd.factorize(joined, sort=False)
    return codes.astype(np.int64), len(uniques)


def sort_entities(df: "pd.DataFrame", keys: Sequence[str], order_by: Optional[str]) -> "pd.DataFrame":
    """Rows grouped by entity (entities in order of first appearance), each entity's rows in orderBy order
    (stable: ties keep file order). A null orderBy is an error: such a row has no place in its series."""
    if order_by is not None and df[order_by].isna().any():
        raise BadInputError(f"spec.data.orderBy: column {order_by!r} is empty in {int(df[order_by].isna().sum())} "
                            "row(s); every row needs a value to be ordered by: fill or drop those rows")
    ids = entity_ids(df, keys)
    frame = df.assign(**{"__entity": ids, "__row": np.arange(len(df))})
    by = ["__entity", *([order_by] if order_by else []), "__row"]
    return frame.sort_values(by, kind="stable").drop(columns=["__entity", "__row"]).reset_index(drop=True)


def truncate(df: "pd.DataFrame", keys: Sequence[str], order_by: Optional[str],
             max_rows: int) -> tuple["pd.DataFrame", int, int]:
    """(table, entities cut, rows dropped): each entity's first `max_rows` rows in orderBy order."""
    ordered = sort_entities(df, keys, order_by)
    ids = entity_ids(ordered, keys)
    pos = _positions(ids)
    keep = pos < max_rows
    cut = len(np.unique(ids[~keep])) if (~keep).any() else 0
    return ordered[keep].reset_index(drop=True), cut, int((~keep).sum())


def _positions(ids: np.ndarray) -> np.ndarray:
    """0-based position of each row within its entity (rows of an entity contiguous or not)."""
    import pandas as pd

    return np.asarray(pd.Series(ids).groupby(ids).cumcount().to_numpy())


def static_columns(df: "pd.DataFrame", ids: np.ndarray, candidates: Sequence[str]) -> list[str]:
    """Columns constant (nulls included) within at least STATIC_SHARE of the entities with more than one row.
    With no multi-row entity, none: nothing shows what is entity-level."""
    import pandas as pd

    sizes = np.bincount(ids)
    multi = sizes[ids] > 1
    if not multi.any():
        return []
    out = []
    for c in candidates:
        s = df[c].astype(object).where(df[c].notna(), "\x00null")[multi]
        distinct = pd.Series(s.to_numpy()).groupby(ids[multi]).nunique()
        if float((distinct <= 1).mean()) >= STATIC_SHARE:
            out.append(c)
    return out


def static_changes(df: "pd.DataFrame", keys: Sequence[str], static: Sequence[str]) -> dict[str, int]:
    """Per static column, the entities in which it nevertheless changes (they are learned with their first
    row's value, and the user is told how many)."""
    ids = entity_ids(df, keys)
    out = {}
    for c in static:
        s = df[c].astype(object).where(df[c].notna(), "\x00null")
        changed = int((s.groupby(ids).nunique() > 1).sum())
        if changed:
            out[c] = changed
    return out


def plan_layout(df: "pd.DataFrame", kinds: dict[str, str], keys: Sequence[str], order_by: Optional[str],
                max_rows: int, declared: Optional[Sequence[str]] = None, private: bool = False) -> EntityLayout:
    """The layout for a table sorted by `sort_entities`: which columns are static, varying and lagged.

    `declared` (spec.data.entityColumns) beats finding static columns in the data; `private` (DP) reads
    nothing from the rows: only declared columns are static and date gaps are counted in seconds.
    """
    check_names([str(c) for c in df.columns])
    order_kind = kinds.get(order_by) if order_by else None
    if order_by and order_kind not in ("integer", "float", "datetime"):
        raise BadInputError(f"spec.data.orderBy: column {order_by!r} is {order_kind}; it must be a number or a "
                            "date/time (declare it in spec.data.columns when it was read as text)")
    ids = entity_ids(df, keys)
    rest = [str(c) for c in df.columns if c not in keys and c != order_by]
    bad = [c for c in (declared or []) if c not in rest]
    if bad:
        raise BadInputError(f"spec.data.entityColumns: {bad[0]!r} is an entity key, the orderBy column or not a "
                            "column of the training table; list entity-level columns only")
    if declared is not None:
        static = [c for c in rest if c in set(declared)]
    else:
        static = [] if private else static_columns(df, ids, rest)
    varying = [c for c in rest if c not in static]
    lagged = [c for c in varying if kinds.get(c) in LAG_KINDS]
    gap_unit = ""
    if order_kind == "datetime":
        gap_unit = "seconds"
        if not private:
            gaps = _raw_gaps(df, ids, order_by, "seconds")
            whole = gaps[~np.isnan(gaps)]
            gap_unit = "days" if np.all(np.mod(whole, DAY_S) == 0) else "seconds"
    key_kinds = {k: ("integer" if kinds.get(k) in ("integer",) or df[k].dtype.kind in "iu" else "string")
                 for k in keys}
    order_dtype = str(df[order_by].dtype) if order_by else ""
    if private:  # as dp.null_safe_dtype: the dtype must not tell whether a null occurred
        order_dtype = order_dtype.capitalize() if order_dtype.startswith("int") else order_dtype
    return EntityLayout(list(keys), order_by, order_kind, gap_unit, static, varying, lagged,
                        [str(c) for c in df.columns], key_kinds, max_rows, order_dtype, rows_first=True)


def _order_numbers(s: "pd.Series", kind: Optional[str]) -> np.ndarray:
    """orderBy values as float numbers: datetimes as epoch seconds."""
    import pandas as pd

    if kind == "datetime":
        stamps = pd.to_datetime(s, utc=True)
        return np.asarray((stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype=float))
    return np.asarray(pd.to_numeric(s, errors="coerce").to_numpy(dtype=float))


def _raw_gaps(df: "pd.DataFrame", ids: np.ndarray, order_by: Optional[str], unit: str) -> np.ndarray:
    kind = "datetime" if unit in ("days", "seconds") else None
    x = _order_numbers(df[order_by], kind)
    gaps = np.full(len(df), np.nan)
    same = np.zeros(len(df), dtype=bool)
    same[1:] = ids[1:] == ids[:-1]
    gaps[1:][same[1:]] = x[1:][same[1:]] - x[:-1][same[1:]]
    return gaps / DAY_S if unit == "days" else gaps


def context_kinds(layout: EntityLayout, kinds: dict[str, str]) -> dict[str, str]:
    """Kinds of the context row's columns."""
    out = {POS: "integer", ROWS: "integer"}
    out.update({c: kinds[c] for c in layout.static + layout.varying})
    out.update({PREV + c: kinds[c] for c in layout.lagged})
    if layout.order_by:
        out[START] = kinds[layout.order_by]
        out[GAP] = "integer" if layout.order_kind == "integer" or layout.gap_unit in ("days", "seconds") else "float"
    return {c: out[c] for c in layout.context_columns}


def to_context_rows(df: "pd.DataFrame", layout: EntityLayout) -> "pd.DataFrame":
    """The context table of a grouped table (`sort_entities` order): one row per row, layout order."""
    import pandas as pd

    ids = entity_ids(df, layout.keys)
    pos = _positions(ids)
    first = np.flatnonzero(pos == 0)
    first_of = first[ids]  # each row's entity's first row
    out: dict[str, Any] = {POS: pd.Series(pos, dtype="int64")}
    for c in layout.static:
        out[c] = df[c].iloc[first_of].reset_index(drop=True)
    if layout.order_by:
        out[START] = df[layout.order_by].iloc[first_of].reset_index(drop=True)
    out[ROWS] = pd.Series(np.bincount(ids)[ids], dtype="int64")
    prev_idx = np.arange(len(df)) - 1
    for c in layout.lagged:
        prev = df[c].iloc[np.maximum(prev_idx, 0)].reset_index(drop=True)
        out[PREV + c] = prev.where(pd.Series(pos > 0), None) if prev.dtype == object else prev.mask(
            pd.Series(pos == 0))
    if layout.order_by:
        unit = layout.gap_unit or "number"
        gaps = _raw_gaps(df, ids, layout.order_by, unit)
        out[GAP] = pd.Series(np.round(gaps), dtype="Int64") if unit in ("days", "seconds") else (
            pd.Series(gaps, dtype="Int64" if layout.order_kind == "integer" else "float64"))
    for c in layout.varying:
        out[c] = df[c].reset_index(drop=True)
    return pd.DataFrame(out, columns=layout.context_columns)


def lag_infos(cols: list["ColumnInfo"], layout: EntityLayout) -> list["ColumnInfo"]:
    """`cols` with each `_ss_prev_<v>` described exactly as `v` (same categories and bounds, nullable), so
    any value the model writes for `v` can be forced into the next row's lag field; and position, row count
    and start never null (prepare refuses a null orderBy, so this follows from the pipeline, not the data:
    under DP every column is otherwise nullable, and a null start left a whole entity without its orderBy)."""
    from dataclasses import replace

    by_name = {c.name: c for c in cols}
    out = []
    for col in cols:
        src = by_name.get(col.name[len(PREV):]) if col.name.startswith(PREV) else None
        if src is not None:
            out.append(replace(src, name=col.name, nullable=True, extra=dict(src.extra)))
        else:
            out.append(replace(col, nullable=False) if col.name in (POS, ROWS, START) else col)
    return out


def length_histogram(ids: np.ndarray, max_rows: int, epsilon: float = 0.0) -> list[float]:
    """Entities per row count 1..max_rows. With `epsilon` > 0 each count gets discrete-Laplace noise of scale
    1/epsilon (one entity changes one count by 1: L1 sensitivity 1) and negatives become 0, an epsilon-DP
    release; without, the exact counts."""
    sizes = np.clip(np.bincount(ids), 1, max_rows) if len(ids) else np.zeros(0, dtype=np.int64)
    counts = np.bincount(sizes, minlength=max_rows + 1)[1:].astype(float)
    if epsilon > 0:
        from safesynth.generator import noise

        counts = np.maximum(noise.laplace_counts(counts, 1.0 / epsilon), 0.0)
    return [float(c) for c in counts]


def draw_lengths(histogram: Sequence[float], n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` entity row counts following a rows-per-entity histogram (1 row each when it is all zeros).

    Stratified, not drawn one by one: each count gets its share of `n` rounded by largest remainder (ties
    broken at random), then the order is shuffled. Independent draws added sampling noise for nothing: on
    the time-series example (246 entities) they put the rows-per-entity JS distance at 0.13 against the
    histogram they came from."""
    weights = np.asarray(histogram, dtype=float)
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    if len(weights) == 0 or weights.sum() <= 0:
        return np.ones(n, dtype=np.int64)
    share = weights / weights.sum() * n
    counts = np.floor(share).astype(np.int64)
    left = n - int(counts.sum())
    if left:
        order = np.lexsort((rng.random(len(share)), -(share - counts)))  # largest remainder, random ties
        counts[order[:left]] += 1
    lengths = np.repeat(np.arange(1, len(weights) + 1), counts)
    return rng.permutation(lengths).astype(np.int64)


def loss_masks(rows: Sequence[Sequence[int]], modeled: Sequence[str], layout: EntityLayout, sep: int,
               first_pos: Sequence[int], no_loss: int) -> list[list[int]]:
    """Per training row, a mask value per token: `no_loss` on the fields generation forces (and the separator
    after each), 1 elsewhere. A row whose position field is `first_pos` (the tokens of "0") is an entity's
    first row: its position, row count, gap and previous values (null) are forced there; later rows have all
    of forced_columns.

    Why: those fields are given at generation, so learning to write them (the entity's birth date on every
    visit) spends the small model on predictions it never makes; the loss goes to what it samples. Measured
    on the time-series example with the entity-level columns learned on every row instead (the row count
    before them, so not length-biased): the model learned each patient's values by heart (they repeat on
    every visit), the held-out loss rose from step 230 and the early-stopped run lost most of lag-1 (mean
    |difference| 0.50 against 0.15)."""
    index = {name: j for j, name in enumerate(modeled)}
    first_forced = {index[c] for c in (POS, ROWS, *layout.first_row_nulls) if c in index}
    later_forced = {index[c] for c in layout.forced_columns if c in index}
    pos_j = index[POS]
    out = []
    for ids in rows:
        fields: list[list[int]] = [[]]
        for t in ids[1:]:
            if t == sep:
                fields.append([])
            else:
                fields[-1].append(t)
        forced = first_forced if pos_j < len(fields) and fields[pos_j] == list(first_pos) else later_forced
        mask, j = [1], 0  # bos
        for t in ids[1:]:
            mask.append(no_loss if j in forced else 1)
            if t == sep:
                j += 1
        out.append(mask)
    return out


def entity_signatures(df: "pd.DataFrame", layout: EntityLayout) -> list[tuple[tuple[str, ...], ...]]:
    """Each entity's rows (in `sort_entities` order) as text, keys left out: equal signatures are equal
    entities, what an exact copy of a training entity means for grouped records."""
    cols = [c for c in layout.columns if c not in layout.keys and c in df.columns]
    ordered = sort_entities(df, layout.keys, layout.order_by)
    ids = entity_ids(ordered, layout.keys)
    text = ordered[cols].astype(object).where(ordered[cols].notna(), None).astype(str).to_numpy()
    out: list[list[tuple[str, ...]]] = [[] for _ in range(int(ids.max()) + 1 if len(ids) else 0)]
    for i, row in zip(ids.tolist(), text):
        out[i].append(tuple(row))
    return [tuple(rows) for rows in out]


def public_domains(layout: EntityLayout) -> dict[str, Any]:
    """Domains of the context columns that follow from the spec alone (privacy.domains entries, no epsilon):
    a position is in [0, maxGroupRows - 1] and a row count in [1, maxGroupRows]."""
    from safesynth.spec.models import ColumnDomain

    return {POS: ColumnDomain(min=0, max=layout.max_rows - 1), ROWS: ColumnDomain(min=1, max=layout.max_rows)}


def with_lag_columns(cols: list["ColumnInfo"], order: Sequence[Any]) -> list["ColumnInfo"]:
    """`cols` plus a placeholder per `_ss_prev_` column of `order`, in `order`; lag_infos fills them in."""
    from safesynth.generator.column_info import ColumnInfo

    by_name = {c.name: c for c in cols}
    return [by_name.get(str(name)) or ColumnInfo(name=str(name), kind="empty") for name in order]


def fresh_keys(n_entities: int, layout: EntityLayout) -> dict[str, list[Any]]:
    """New key values per entity: 1..n for integer keys, "entity-000001"... otherwise."""
    return {k: (list(range(1, n_entities + 1)) if layout.key_kinds.get(k) == "integer"
                else [f"entity-{i:06d}" for i in range(1, n_entities + 1)]) for k in layout.keys}


def from_context_rows(ctx: "pd.DataFrame", entity: np.ndarray, layout: EntityLayout,
                      dtypes: dict[str, str]) -> "pd.DataFrame":
    """The grouped table back from generated context rows: `entity` numbers each row's entity (0-based, rows of
    an entity contiguous and in position order); keys fresh, orderBy rebuilt from start + gaps, columns in the
    original order. `dtypes` are the original columns' pandas dtypes."""
    import pandas as pd

    n_entities = int(entity.max()) + 1 if len(entity) else 0
    keys = fresh_keys(n_entities, layout)
    out: dict[str, Any] = {}
    for k in layout.keys:
        out[k] = pd.Series(np.asarray(keys[k], dtype=object)[entity] if len(entity) else [], dtype=object)
        if layout.key_kinds.get(k) == "integer":
            out[k] = out[k].astype("int64")
    if layout.order_by:
        out[layout.order_by] = rebuild_order(ctx, entity, layout, dtypes.get(layout.order_by, ""))
    for c in layout.static + layout.varying:
        out[c] = ctx[c].reset_index(drop=True)
    return pd.DataFrame(out, columns=[c for c in layout.columns if c in out])


def rebuild_order(ctx: "pd.DataFrame", entity: np.ndarray, layout: EntityLayout, dtype: str) -> "pd.Series":
    """orderBy per row: the entity's start plus the running sum of its gaps (a null or negative gap counts 0)."""
    import pandas as pd

    # a negative gap (possible under DP, whose released gap range is widened by margin bins) counts 0:
    # rows come out in order whatever the model wrote
    gaps = np.maximum(pd.to_numeric(ctx[GAP], errors="coerce").fillna(0).to_numpy(dtype=float), 0.0)
    first = np.ones(len(entity), dtype=bool)
    first[1:] = entity[1:] != entity[:-1]
    gaps[first] = 0.0
    offset = pd.Series(gaps).groupby(entity).cumsum().to_numpy()
    start = ctx[START].reset_index(drop=True)
    start_first = start.iloc[np.flatnonzero(first)[entity]].reset_index(drop=True) if len(entity) else start
    if layout.order_kind == "datetime":
        unit = DAY_S if layout.gap_unit == "days" else 1.0
        stamps = pd.to_datetime(start_first) + pd.to_timedelta(offset * unit, unit="s")
        return stamps.astype(dtype) if dtype.startswith("datetime64") else stamps
    values = pd.to_numeric(start_first, errors="coerce").to_numpy(dtype=float) + offset
    if layout.order_kind == "integer":
        return pd.Series(np.round(values), dtype="Int64").astype(dtype or "Int64", errors="ignore")
    return pd.Series(values, dtype="float64")
