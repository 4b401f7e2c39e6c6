"""PII replay: original values of replaced columns reappearing in the synthetic table."""

from __future__ import annotations

import numpy as np
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


def test_common_values_found_by_chance_are_not_replay_but_a_leak_of_rare_ones_is() -> None:
    """Fakes share vocabulary with real values (Faker builds street names from surnames), and common values
    are found by chance more often than rare ones. The control is the holdout's rows, drawn like the training
    rows, so chance matches of common values cancel; values unseen in training would be a rare-only control."""
    rng = np.random.default_rng(0)
    vocab = [f"Surname{i}" for i in range(400)]
    weights = 1.0 / np.arange(1, 401)  # Zipf: a few common surnames, a long tail of rare ones
    base = population(2000, 0)
    base["name"] = rng.choice(vocab, size=2000, p=weights / weights.sum())
    train, hold = split(base, 200)
    fake = train.assign(name=[f"Fake Person{i}" for i in range(len(train))], town="Springfield")
    # a town column whose fakes happen to be the 40 commonest surnames (as "Smith" is a street and a town)
    syn = population(500, 3).assign(name=[f"Fake Person{i}" for i in range(500)], town=(vocab[:40] * 13)[:500])
    pii = PiiInputs(original_train=train, original_holdout=hold,
                    replaced={"name": {"entity": "LAST_NAME", "action": "fake"}}, free_text=[], replaced_train=fake)
    chance = PiiReplay().compute(context(fake, syn, hold.assign(name="Fake Other", town="Springfield"), pii=pii)).details[0]
    assert chance["replayShare"] > 0.5 and chance["excess"] < 0.1  # found often, but as often for holdout rows
    rare = [v for v in train["name"].unique() if v not in set(hold["name"]) and v not in vocab[:40]]
    leak = syn.assign(name=(rare * 5)[:500])  # the generator writes the training table's rare surnames
    leaked = PiiReplay().compute(context(fake, leak, hold.assign(name="Fake Other", town="Springfield"), pii=pii)).details[0]
    assert leaked["excess"] > 0.2
