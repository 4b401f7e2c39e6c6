"""Parse generated token ids into typed rows and reject what breaks the schema, counting why.

Checks, in order, each with the reason it is counted under:
- unfinished: no end-of-row token before the length limit;
- structure:  a special token where it cannot be (null inside a value, bos mid-row);
- columns:    not exactly one field per modeled column;
- null:       null in a column that had none;
- encoding:   a field whose bytes are not UTF-8 (a byte-level model can sample those);
- type:       a field that does not read as its kind (integer, float, boolean, date);
- category:   a value outside the column's categories;
- range:      a number or date outside the column's bounds;
- trainingCopy: the row equals a training row (only when copies are dropped).
Reasons are words, never values: they go into summaries and logs.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any, Iterable, Optional, Sequence

from safesynth.generator.column_info import ColumnInfo
from safesynth.generator.serialize import Field, FieldError, datetime_seconds, from_field, to_field
from safesynth.generator.tokenizer import FieldTokenizer

REASONS = ("unfinished", "structure", "columns", "encoding", "null", "type", "category", "range", "trainingCopy")


def check_value(field: Field, col: ColumnInfo) -> Any:
    """The typed value of one field, or FieldError(reason)."""
    value = from_field(field, col)
    if value is None:
        return None
    if col.categories is not None and col.kind in ("categorical", "boolean") and field not in col.categories:
        raise FieldError("category")
    if col.minimum is not None and col.maximum is not None and col.kind in ("integer", "float", "datetime"):
        try:
            x = datetime_seconds(value) if col.kind == "datetime" else float(value)
        except (OverflowError, ValueError):
            raise FieldError("range") from None
        if not (col.minimum <= x <= col.maximum):
            raise FieldError("range")
    return value


def row_key(values: Sequence[Any], cols: Sequence[ColumnInfo]) -> tuple[Field, ...]:
    """Canonical fields of a typed row: equal keys mean equal rows (used to spot training copies)."""
    return tuple(to_field(v, c) for v, c in zip(values, cols))


class RowValidator:
    """Turns generated ids into typed rows of the modeled columns; counts rejects by reason."""

    def __init__(self, cols: Sequence[ColumnInfo], tokenizer: FieldTokenizer,
                 training_keys: Optional[Iterable[tuple[Field, ...]]] = None) -> None:
        self.cols = [c for c in cols if c.modeled]
        self.tokenizer = tokenizer
        self.training_keys = set(training_keys) if training_keys is not None else None
        self.rejected: Counter[str] = Counter()
        # Which column broke a row, by reason: names and counts only, so the summary can say where to look.
        self.rejected_by_column: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.checked = 0  # rows seen
        self.valid = 0  # rows that passed the schema checks (copies of training rows included)
        self.copies = 0  # valid rows equal to a training row

    def check(self, ids: Sequence[int]) -> tuple[Optional[list[Any]], Optional[str]]:
        """(values, None) for a valid row, (None, reason) otherwise; copies are counted either way."""
        try:
            fields = self.tokenizer.decode_row(ids, len(self.cols))
        except FieldError as err:
            return None, err.reason
        values = []
        for f, c in zip(fields, self.cols):
            try:
                values.append(check_value(f, c))
            except FieldError as err:
                self.rejected_by_column[c.name][err.reason] += 1
                return None, err.reason
        return values, None

    def accept(self, ids: Sequence[int], drop_copies: bool = False) -> Optional[list[Any]]:
        """check(), plus the training-copy rule; updates the reject counters."""
        values, reason = self.check(ids)
        self.checked += 1
        self.valid += values is not None
        if values is not None and self.training_keys is not None:
            if row_key(values, self.cols) in self.training_keys:
                self.copies += 1
                if drop_copies:
                    reason, values = "trainingCopy", None
        if reason is not None:
            self.rejected[reason] += 1
        return values
