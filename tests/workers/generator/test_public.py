"""Public pretraining rows come from the DP-safe schema only."""

from __future__ import annotations

from safesynth.generator.columns import DATE, ColumnInfo
from safesynth.generator.public import public_rows
from safesynth.generator.serialize import from_field
from safesynth.generator.validate import check_value

COLS = [
    ColumnInfo("g", "categorical", "string", categories=["x", "y"]),
    ColumnInfo("n", "integer", "int64", minimum=10, maximum=20),
    ColumnInfo("f", "float", "float64"),  # no bounds: a default range
    ColumnInfo("d", "datetime", "datetime64[ns]", style=DATE, minimum=0.0, maximum=86400.0 * 365),
    ColumnInfo("t", "text", "string"),
    ColumnInfo("id", "identifier", "string"),
]


def test_rows_fit_the_schema_and_are_seeded() -> None:
    rows = public_rows(COLS, 300, seed=1)
    modeled = [c for c in COLS if c.modeled]
    assert len(rows) == 300 and all(len(r) == len(modeled) for r in rows)
    for row in rows:
        for field, col in zip(row, modeled):
            check_value(field, col)  # raises on anything outside categories, bounds or format
    assert {r[0] for r in rows} <= {"x", "y", None} and any(r[4] is None for r in rows)
    assert rows == public_rows(COLS, 300, seed=1) and rows != public_rows(COLS, 300, seed=2)
    assert all(from_field(r[2], modeled[2]) is None or 0 <= float(r[2]) <= 100 for r in rows)
