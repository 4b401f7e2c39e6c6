"""How many new rows the modeled columns allow, counted from domains and distinct training rows."""

from __future__ import annotations

from safesynth.generator.column_info import ColumnInfo
from safesynth.generator.feasibility import Capacity, domain_size, impossible_job_message, new_row_capacity


def cat(name: str, cats: list[str], nullable: bool = False) -> ColumnInfo:
    return ColumnInfo(name, "categorical", categories=cats, nullable=nullable)


def test_domain_sizes() -> None:
    assert domain_size(cat("g", ["a", "b"])) == 2
    assert domain_size(cat("g", ["a", "b"], nullable=True)) == 3
    assert domain_size(ColumnInfo("n", "integer", minimum=3, maximum=7, nullable=False)) == 5
    assert domain_size(ColumnInfo("x", "float", minimum=0, maximum=1)) is None
    assert domain_size(ColumnInfo("t", "text")) is None


def test_capacity_counts_free_combinations() -> None:
    cols = [cat("g", ["a", "b"]), ColumnInfo("n", "integer", minimum=1, maximum=2, nullable=False)]
    full = [["a", "1"], ["a", "2"], ["b", "1"], ["b", "2"], ["a", "1"]]
    assert new_row_capacity(cols, full) == Capacity(4, 4)
    assert new_row_capacity(cols, full[:3]).new_rows == 1
    # a rare category left out of the domain is not a row the generator may write
    assert new_row_capacity([cat("g", ["a"])], [["a"], ["z"]]) == Capacity(1, 1)
    assert new_row_capacity([ColumnInfo("t", "text")], [["x"]]).new_rows is None


def test_message_only_when_nothing_is_free() -> None:
    assert impossible_job_message(Capacity(4, 3), 2) is None
    assert impossible_job_message(Capacity(None, 9), 2) is None
    text = impossible_job_message(Capacity(3, 3), 1)
    assert text is not None and "dropTrainingCopies" in text and "3 distinct rows" in text
