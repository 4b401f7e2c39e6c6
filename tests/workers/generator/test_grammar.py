"""The decoding grammar accepts every canonical training row and nothing the schema forbids."""

from __future__ import annotations

from typing import Sequence

import pytest
import torch

from safesynth.generator import columns as C
from safesynth.generator.grammar import Grammar
from safesynth.generator.serialize import frame_to_fields
from safesynth.generator.tokenizer import FieldTokenizer, train_bpe
from tests.workers.generator.helpers import KINDS, tiny_table


@pytest.fixture(scope="module")
def setup() -> tuple[list[C.ColumnInfo], FieldTokenizer, list[list[int]]]:
    df = tiny_table(80)
    cols = C.describe_columns(df, KINDS)
    fields = frame_to_fields(df, cols)
    tok = train_bpe((f for r in fields for f in r if f is not None), 300)
    return cols, tok, tok.encode_rows(fields)


def walk(g: Grammar, ids: Sequence[int]) -> bool:
    """True when the grammar allows every token of `ids` (after bos) and the row ends on eos."""
    state = torch.tensor([g.start])
    for t in ids[1:]:
        if not bool(g.masks[state[0], t]):
            return False
        state, finished = g.step(state, torch.tensor([t]))
    return bool(finished[0])


def test_every_training_row_is_accepted(setup) -> None:  # type: ignore[no-untyped-def]
    cols, tok, rows = setup
    g = Grammar(cols, tok, tok.vocab_size)
    assert all(walk(g, r) for r in rows)


@pytest.mark.parametrize(("column", "value", "ok"), [
    ("age", "17", False), ("age", "100", False), ("age", "41", True), ("age", "089", False), ("group", "d", False), ("group", "b", True),
    # An 80-day date column is spelled out day by day: no impossible date, no day past the last one.
    ("visit", "2020-02-30", False), ("visit", "2020-03-20", True), ("visit", "2020-03-21", False),
    ("visit", "2020-13-01", False), ("visit", "1999-01-01", False), ("income", "1.2.3", False),
    ("smoker", "yes", False), ("note", "anything at all", True), ("age", None, False), ("note", None, True),
])
def test_fields_outside_the_schema_cannot_be_written(setup, column: str, value, ok: bool) -> None:  # type: ignore[no-untyped-def]
    cols, tok, _ = setup
    modeled = [c for c in cols if c.modeled]
    row = [{"age": "40", "income": "50000.5", "group": "a", "smoker": "true", "visit": "2020-01-05",
            "note": "fine"}[c.name] for c in modeled]
    row[[c.name for c in modeled].index(column)] = value
    assert walk(Grammar(cols, tok, tok.vocab_size), tok.encode_rows([row])[0]) is ok


def test_fixed_values_allow_only_that_value(setup) -> None:  # type: ignore[no-untyped-def]
    cols, tok, _ = setup
    g = Grammar(cols, tok, tok.vocab_size, fixed={"age": "42"})
    start = g.masks[g.start].nonzero().flatten().tolist()
    assert start == tok.encode_values(["4"])[0]  # only "4" may begin the age field, and null may not


def test_date_spelling_is_exact_only_for_narrow_spans() -> None:
    from datetime import datetime, timezone

    from safesynth.generator.grammar import EXACT_DATE_DAYS, column_dfa

    def secs(day: str) -> float:
        return datetime.fromisoformat(day).replace(tzinfo=timezone.utc).timestamp()

    def column(lo: str, hi: str) -> C.ColumnInfo:
        return C.ColumnInfo(name="d", kind="datetime", dtype="datetime64[ns]", style=C.DATE,
                            minimum=secs(lo), maximum=secs(hi))

    narrow = column_dfa(column("2024-02-27", "2024-03-02"))
    accepted = [d for d in ("2024-02-26", "2024-02-27", "2024-02-29", "2024-02-30", "2024-03-02", "2024-03-03")
                if narrow.run(narrow.start, d) in narrow.accept]
    assert accepted == ["2024-02-27", "2024-02-29", "2024-03-02"]
    wide = column_dfa(column("1990-01-01", "2000-12-31"))
    assert (secs("2000-12-31") - secs("1990-01-01")) / 86_400 > EXACT_DATE_DAYS
    assert wide.run(wide.start, "1995-02-29") in wide.accept  # month-aware, but leap years are the validator's
    assert wide.run(wide.start, "1995-04-31") not in wide.accept
