"""PII replay: original values of replaced columns reappearing in the synthetic table."""

from __future__ import annotations

import pandas as pd
import pytest

from safesynth.metrics.base import NotApplicable
from safesynth.metrics.columns import Kind
from safesynth.metrics.context import PiiInputs
from safesynth.metrics.pii_replay import (
    PiiReplay,
    SyntheticIndex,
    removed_spans,
    replaced_from_diff,
    replaced_from_report,
)
from tests.workers.metrics.tables import context, population, split

FIRST = ["Alice", "Bruno", "Chen", "Dana", "Emeka", "Fatima", "Goran", "Hana", "Ivan", "Jia", "Kofi", "Lena",
         "Mateo", "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Viktor", "Wen", "Ximena",
         "Yusuf", "Zara"]
LAST = ["Okafor", "Lindqvist", "Moreau", "Tanaka", "Novak", "Haddad", "Silva", "Kowalski", "Nguyen", "Ibrahim"]


def names(n: int, offset: int) -> list[str]:
    return [f"{FIRST[(i + offset) % len(FIRST)]} {LAST[((i + offset) // len(FIRST)) % len(LAST)]}" for i in range(n)]


def setup(synthetic_names: list[str], n: int = 260):  # type: ignore[no-untyped-def]
    base = population(n, 0)
    base["name"] = names(n, 0)
    train, hold = split(base, 60)
    fake = train.copy()
    fake["name"] = [f"Fake Person{i}" for i in range(len(fake))]
    syn = population(len(synthetic_names), 3)
    syn["name"] = synthetic_names
    pii = PiiInputs(original_train=train, original_holdout=hold,
                    replaced={"name": {"entity": "PERSON", "action": "fake"}}, free_text=[], replaced_train=fake)
    return context(fake, syn, hold.assign(name=[f"Fake Other{i}" for i in range(len(hold))]), pii=pii)


def test_replayed_training_names_score_low_fakes_score_high() -> None:
    leak = setup(names(200, 60))  # the training people's real names
    res = PiiReplay().compute(leak)
    row = res.details[0]
    assert row["checked"] and row["replayShare"] > 0.5 and res.score < 5.0
    clean = PiiReplay().compute(setup([f"Someone Else{i}" for i in range(200)]))
    assert clean.details[0]["replayShare"] == 0.0 and clean.score == 10.0


def test_names_inside_free_text_are_found() -> None:
    idx = SyntheticIndex(pd.DataFrame({"notes": ["Seen by Dana Tanaka, follow up.", "nothing"]}), ["notes"])
    assert idx.contains("dana tanaka") and not idx.contains("dana okafor") and not idx.contains("da")


def test_removed_spans_are_the_replaced_tokens() -> None:
    orig = pd.Series(["Call Dana Tanaka at home", "no pii here", None])
    repl = pd.Series(["Call Wen Silva at home", "no pii here", None])
    assert removed_spans(orig, repl) == {"dana tanaka"}


def test_columns_from_report_shapes_and_diff() -> None:
    as_dict = {"columns": {"name": {"entity": "PERSON", "action": "fake"}, "age": {"entity": None, "action": "keep"}}}
    as_list = {"columns": [{"column": "name", "entity": "PERSON", "action": {"name": "fake"}},
                           {"column": "notes", "spansReplaced": 3, "action": "fake"}]}
    assert set(replaced_from_report(as_dict)) == {"name"}
    got = replaced_from_report(as_list)
    assert got["name"]["action"] == "fake" and got["notes"]["freeText"]
    a = pd.DataFrame({"x": [1, 2], "y": ["a", "b"], "z": ["c", "d"], "w": [1, 2], "v": ["e", "f"]})
    b = pd.DataFrame({"x": [1, 2], "y": ["a", "Q"], "w": [5, 2], "v": ["e", "f"]})
    kinds = {"x": Kind.NUMERIC, "y": Kind.CATEGORICAL, "z": Kind.CATEGORICAL, "w": Kind.NUMERIC, "v": Kind.TEXT}
    got = {k: v["action"] for k, v in replaced_from_diff(a, b, kinds).items()}
    assert got == {"y": None, "z": "drop"}  # w differs but is a number: not a replay candidate
    assert {k: v["action"] for k, v in replaced_from_diff(a, b, kinds, changed=False).items()} == {"z": "drop"}
    shuffled = a.iloc[::-1].reset_index(drop=True)  # not row-aligned: every column differs, diff says nothing
    assert replaced_from_diff(a, shuffled, kinds) == {}


def test_not_applicable_and_unchecked_columns() -> None:
    df = population(100, 0)
    with pytest.raises(NotApplicable, match="did not run"):
        PiiReplay().compute(context(df, df))
    train, hold = split(df, 30)
    pii = PiiInputs(train, hold, {"age": {"entity": "AGE", "action": "generalize"},
                                  "group": {"entity": "LOCATION", "action": "fake"}}, [])
    with pytest.raises(NotApplicable, match=r"generalize.*|fewer than 20"):
        PiiReplay().compute(context(train, train, hold, pii=pii))
