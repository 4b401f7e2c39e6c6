"""Can the generator make a row that is not a training row? Decided before training, from counts only.

With generation.dropTrainingCopies on, every generated row equal to a training
row is rejected. When the columns' domains are all finite (categories,
booleans, bounded integers) and every combination of them already occurs in
training (one low-cardinality column, all rows identical, a few tiny columns
fully crossed), no acceptable row exists: generation would reject everything
after minutes of training. `new_row_capacity` counts the combinations that are
still free; the train stage refuses the job when there are none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

from safesynth.generator.column_info import ColumnInfo
from safesynth.generator.serialize import Field


def domain_size(col: ColumnInfo) -> Optional[int]:
    """How many distinct fields the validator accepts for a modeled column; None when unbounded (floats,
    dates, text). Null counts as one more value where the column had nulls."""
    null = 1 if col.nullable else 0
    if col.kind in ("categorical", "boolean") and col.categories is not None:
        return len(col.categories) + null
    if col.kind == "integer" and col.minimum is not None and col.maximum is not None:
        return int(math.floor(col.maximum) - math.ceil(col.minimum) + 1) + null
    return None


@dataclass(frozen=True)
class Capacity:
    """Rows the validator accepts (`possible`, None when unbounded) and distinct training rows among them."""

    possible: Optional[int]
    distinct_training: int

    @property
    def new_rows(self) -> Optional[int]:
        return None if self.possible is None else self.possible - self.distinct_training


def new_row_capacity(cols: Sequence[ColumnInfo], fields: Sequence[Sequence[Field]]) -> Capacity:
    """Capacity of the modeled columns given the training rows' fields (modeled columns, `cols` order)."""
    modeled = [c for c in cols if c.modeled]
    sizes = [domain_size(c) for c in modeled]
    if any(s is None for s in sizes):
        return Capacity(None, len({tuple(r) for r in fields}))
    allowed = [_allowed(c) for c in modeled]
    inside = {tuple(r) for r in fields if all(ok(f) for ok, f in zip(allowed, r))}
    return Capacity(math.prod(s for s in sizes if s is not None), len(inside))


def _allowed(col: ColumnInfo):  # type: ignore[no-untyped-def]
    """A test for whether a field lies in the column's domain (rare categories left out of it do not)."""
    cats = set(col.categories or ())

    def ok(field: Field) -> bool:
        if field is None:
            return col.nullable
        return field in cats if col.kind in ("categorical", "boolean") else True

    return ok


def impossible_job_message(capacity: Capacity, n_columns: int) -> Optional[str]:
    """The error text when no new row can exist, else None. Counts only, never values."""
    if capacity.new_rows is None or capacity.new_rows > 0:
        return None
    return (
        f"no new row can be generated: the {n_columns} modeled column(s) allow {capacity.possible} distinct rows and "
        f"all {capacity.distinct_training} occur in the training data, so spec.generation.dropTrainingCopies (on) "
        "would reject every generated row. Set spec.generation.dropTrainingCopies: false (copies of training rows "
        "are then kept and counted in the report), or supply a table with more columns or more varied values"
    )
