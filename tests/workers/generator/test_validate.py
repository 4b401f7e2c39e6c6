"""Each kind of bad row is rejected and counted under its reason; good rows come back typed."""

from __future__ import annotations

import pandas as pd
import pytest

from safesynth.generator import columns as C
from safesynth.generator.serialize import frame_to_fields
from safesynth.generator.tokenizer import train_bpe
from safesynth.generator.validate import RowValidator, row_key

COLS = [
    C.ColumnInfo("age", "integer", "int64", nullable=False, minimum=18, maximum=90),
    C.ColumnInfo("grp", "categorical", "string", nullable=True, categories=["a", "b"]),
    C.ColumnInfo("day", "datetime", "datetime64[ns]", nullable=False, style=C.DATE,
                 minimum=pd.Timestamp("2020-01-01").timestamp(), maximum=pd.Timestamp("2020-12-31").timestamp()),
    C.ColumnInfo("txt", "text", "string", nullable=True),
]
TOK = train_bpe(["12", "a", "b", "2020-01-01", "hello"] * 5, 280)
GOOD = ["40", "a", "2020-05-01", "hello"]


def ids_of(fields: list) -> list[int]:  # type: ignore[type-arg]
    return TOK.encode_rows([fields])[0]


def test_a_good_row_is_typed() -> None:
    values, reason = RowValidator(COLS, TOK).check(ids_of(GOOD))
    assert reason is None and values == [40, "a", pd.Timestamp("2020-05-01"), "hello"]


@pytest.mark.parametrize(("ids", "reason"), [
    (ids_of(GOOD)[:-1], "unfinished"),
    (ids_of(GOOD[:3]), "columns"),
    (ids_of(GOOD)[:2] + [TOK.specials.null] + ids_of(GOOD)[2:], "structure"),
    (ids_of([None, "a", "2020-05-01", "x"]), "null"),
    (ids_of(["4O", "a", "2020-05-01", "x"]), "type"),
    (ids_of(["40", "a", "2020-02-30", "x"]), "type"),
    (ids_of(["40", "c", "2020-05-01", "x"]), "category"),
    (ids_of(["17", "a", "2020-05-01", "x"]), "range"),
    (ids_of(["40", "a", "2021-01-01", "x"]), "range"),
])
def test_each_bad_row_is_rejected_with_its_reason(ids: list[int], reason: str) -> None:
    v = RowValidator(COLS, TOK)
    assert v.accept(ids) is None and v.rejected == {reason: 1} and v.valid == 0


def test_training_copies_are_counted_and_dropped_on_request() -> None:
    train = pd.DataFrame({"age": [40], "grp": ["a"], "day": [pd.Timestamp("2020-05-01")], "txt": ["hello"]})
    keys = {tuple(f) for f in frame_to_fields(train, COLS)}
    keep, drop = RowValidator(COLS, TOK, keys), RowValidator(COLS, TOK, keys)
    assert keep.accept(ids_of(GOOD)) is not None and keep.copies == 1 and not keep.rejected
    assert drop.accept(ids_of(GOOD), drop_copies=True) is None and drop.rejected == {"trainingCopy": 1}
    assert drop.valid == 1  # schema-valid, rejected only as a copy
    assert row_key([40, "a", pd.Timestamp("2020-05-01"), "hello"], COLS) in keys
