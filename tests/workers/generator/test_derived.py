"""Derived columns: true relations are found and enforced, chance ones are not found, rules never cycle."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from safesynth.generator import derived as D

N = 400


def visits(seed: int = 0, n: int = N) -> pd.DataFrame:
    """Birth and visit dates, an age at the visit with ±1 jitter on a quarter of rows, a stay and its end."""
    rng = np.random.default_rng(seed)
    birth = pd.Timestamp("1930-01-01") + pd.to_timedelta(rng.integers(0, 80 * 365, n), unit="D")
    visit = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    age = D.years_between(pd.Series(birth), pd.Series(visit)).astype("int64")
    age = age + np.where(rng.random(n) < 0.25, rng.choice([-1, 1], n), 0)
    stay = rng.integers(1, 30, n)
    return pd.DataFrame({
        "b": pd.Series(birth), "v": pd.Series(visit), "x": pd.Series(age, dtype="int64"),
        "e": pd.Series(visit + pd.to_timedelta(stay, unit="D")), "s": pd.Series(stay, dtype="int64"),
        "noise": pd.Series(rng.integers(0, 100, n), dtype="int64"),
    })


KINDS = {"b": "datetime", "v": "datetime", "x": "integer", "e": "datetime", "s": "integer", "noise": "integer"}


def by_column(rules: list[D.DerivedRule]) -> dict[str, D.DerivedRule]:
    return {r.derived: r for r in rules}


@pytest.mark.parametrize(("start", "end", "years"), [
    ("2000-05-10", "2020-05-10", 20),  # birthday today: passed
    ("2000-05-10", "2020-05-09", 19),  # the day before
    ("2000-05-10", "2020-12-31", 20),
    ("2000-02-29", "2021-02-28", 20),  # leap-day birth: passed on 1 March in common years
    ("2000-02-29", "2021-03-01", 21),
    ("2000-02-29", "2024-02-29", 24),
    ("2020-06-01", "2019-07-01", -1),  # end before start: floor of a negative span
])
def test_years_between_follows_the_calendar(start: str, end: str, years: int) -> None:
    got = D.years_between(pd.Series([pd.Timestamp(start)]), pd.Series([pd.Timestamp(end)]))
    assert got.tolist() == [years]


def test_an_age_at_a_visit_with_shifted_births_is_found() -> None:
    rules = by_column(D.find_rules(visits(), KINDS))
    rule = rules["x"]
    assert (rule.relation, rule.inputs, rule.tolerance) == (D.YEARS_BETWEEN, ("b", "v"), 1.0)
    assert rule.agree_share == 1.0 and 0.6 < rule.exact_share < 0.9 and rule.rows == N


def test_an_exact_age_gets_no_tolerance() -> None:
    df = visits()
    df["x"] = D.years_between(df["b"], df["v"]).astype("int64")
    assert by_column(D.find_rules(df, KINDS))["x"].tolerance == 0.0


def test_a_duration_is_found_and_only_in_its_direction() -> None:
    rule = by_column(D.find_rules(visits(), KINDS))["s"]
    assert (rule.relation, rule.inputs, rule.tolerance, rule.exact_share) == (D.DAYS_BETWEEN, ("v", "e"), 0.0, 1.0)


def test_random_columns_are_not_derived() -> None:
    df = visits()
    df["x"] = np.random.default_rng(1).integers(0, 90, len(df))
    assert "x" not in by_column(D.find_rules(df, KINDS)) and "noise" not in by_column(D.find_rules(df, KINDS))


def test_a_narrow_column_is_not_explained_by_chance() -> None:
    """A 0/1 flag is within ±1 year of any short span (years between visit and end are 0): not a relation."""
    df = visits()
    df["x"] = (np.random.default_rng(2).random(len(df)) < 0.2).astype("int64")  # exact where 0: 80 % of rows
    df["e"] = df["v"] + pd.to_timedelta(np.where(np.arange(len(df)) % 50 == 0, 400, 10), unit="D")
    assert "x" not in by_column(D.find_rules(df, KINDS))


def test_too_few_rows_find_nothing() -> None:
    assert D.find_rules(visits(n=D.MIN_ROWS - 1), KINDS) == []


def test_rules_do_not_depend_on_names() -> None:
    renamed = {"b": "zz", "v": "col1", "x": "q", "e": "aa", "s": "k7", "noise": "age"}
    rules = D.find_rules(visits().rename(columns=renamed), {renamed[c]: k for c, k in KINDS.items()})
    assert {(r.derived, r.inputs) for r in rules} == {("q", ("zz", "col1")), ("k7", ("col1", "aa"))}


def test_generated_rows_are_recomputed_and_in_band_cells_kept() -> None:
    rules = D.find_rules(visits(), KINDS)
    generated = derived_first(visits(seed=5))  # the age written before the birth date: the age gives way
    generated["x"] = np.random.default_rng(3).integers(0, 90, len(generated))
    generated["s"] = 1
    fixed, changed = D.apply_rules(generated, rules)

    computed = D.years_between(generated["b"], generated["v"])
    in_band = np.abs(generated["x"].to_numpy() - computed) <= 1
    assert np.all(np.abs(fixed["x"].to_numpy() - computed) <= 1)
    assert fixed["x"][in_band].tolist() == generated["x"][in_band].tolist()
    assert changed["x"] == int((~in_band).sum()) and changed["s"] == int((generated["s"] != fixed["s"]).sum())
    assert fixed["s"].tolist() == (fixed["e"] - fixed["v"]).dt.days.tolist()
    assert fixed.dtypes.to_dict() == generated.dtypes.to_dict()
    assert generated["s"].eq(1).all()  # the input frame is left alone


def test_nulls_are_kept() -> None:
    rules = D.find_rules(visits(), KINDS)
    generated = derived_first(visits(seed=6).head(6))
    generated["x"] = pd.Series([200, 200, None, 200, 200, 200], dtype="Int64")
    generated.loc[0, "b"] = pd.NaT  # an input is null: nothing to compute, the generated cell stays
    generated.loc[[0, 1], "e"] = pd.NaT
    fixed, changed = D.apply_rules(generated, rules)
    assert fixed["x"][0] == 200 and pd.isna(fixed["x"][2]) and str(fixed["x"].dtype) == "Int64"
    assert changed["x"] == 4 and fixed["s"][:2].tolist() == generated["s"][:2].tolist()


def test_recomputed_values_are_clipped_to_the_training_range() -> None:
    rule = by_column(D.find_rules(visits(), KINDS))["x"]
    generated = pd.DataFrame({"x": [50, 50], "b": [pd.Timestamp("2021-01-01"), pd.Timestamp("1800-01-01")],
                              "v": [pd.Timestamp("2020-01-01")] * 2})
    fixed, _ = D.apply_rules(generated, [rule])
    assert fixed["x"].tolist() == [rule.minimum, rule.maximum]


def derived_first(df: pd.DataFrame) -> pd.DataFrame:
    """The table with the derived column x moved to the front (the model writes it before its inputs)."""
    return df[["x", *[c for c in df.columns if c != "x"]]]


def test_a_start_written_before_its_derived_column_gives_way_by_its_year() -> None:
    """Start (b) written first, the derived age (x) after the end (v): the age the model wrote is kept (clipped
    to the training range) and the birth date's year moves, month and day kept."""
    rule = by_column(D.find_rules(visits(), KINDS))["x"]
    generated = pd.DataFrame({"b": pd.to_datetime(["1990-06-15", "2000-02-29", "1950-03-01", "1985-12-31"]),
                              "v": pd.to_datetime(["2020-06-14", "2021-03-01", "2020-03-01", "2020-01-01"]),
                              "x": [10, 40, 500, 34]})
    fixed, changed = D.apply_rules(generated, [rule])
    kept = np.clip(generated["x"].to_numpy(), rule.minimum, rule.maximum)
    assert fixed["x"].tolist() == kept.tolist()  # kept, only the out-of-range 500 clipped
    assert np.all(np.abs(D.years_between(fixed["b"], fixed["v"]) - kept) <= rule.tolerance)
    assert (fixed["b"].dt.month * 100 + fixed["b"].dt.day).tolist() == [615, 228, 301, 1231]  # 29 Feb: a leap day
    assert fixed["b"].tolist()[3] == generated["b"][3] and changed == {"b": 3, "x": 1}  # in-band row untouched


def test_a_sum_is_found_and_recomputed_but_not_with_a_constant_part() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.integers(0, 50, N), rng.normal(10, 3, N).round(2)
    df = pd.DataFrame({"a": a, "b": b, "t": a + b, "z": 0, "u": a + 0})
    kinds = {c: "float" for c in df.columns}
    rules = by_column(D.find_rules(df, kinds))
    assert set(rules) == {"t"} and rules["t"].inputs == ("a", "b") and rules["t"].decimals == 2
    fixed, changed = D.apply_rules(pd.DataFrame({"a": [1.0], "b": [2.25], "t": [9.0], "z": [0], "u": [1.0]}),
                                   [rules["t"]])
    assert fixed["t"].tolist() == [3.25] and changed == {"t": 1}


def test_rules_never_cycle() -> None:
    """t = a + b and w = t + c both hold: t is derived, so it cannot also feed w (and w is not kept)."""
    rng = np.random.default_rng(7)
    a, b, c = (rng.integers(0, 100, N) for _ in range(3))
    df = pd.DataFrame({"a": a, "b": b, "t": a + b, "c": c, "w": a + b + c})
    rules = D.find_rules(df, {col: "integer" for col in df.columns})
    derived = {r.derived for r in rules}
    assert rules and all(not derived.intersection(r.inputs) for r in rules)
    assert [(r.derived, r.inputs) for r in rules] == [("t", ("a", "b"))]


def test_equally_good_rules_are_chosen_by_column_order() -> None:
    df = visits()
    df.insert(1, "v0", df["v"])  # a copy of the visit date explains the age and the stay equally well
    kinds = {**KINDS, "v0": "datetime"}
    rules = by_column(D.find_rules(df, kinds))
    assert rules["x"].inputs == ("b", "v0") and rules["s"].inputs == ("v0", "e")
    assert D.find_rules(df, kinds) == D.find_rules(df, kinds)


def test_rules_round_trip_through_json() -> None:
    rules = D.find_rules(visits(), KINDS)
    assert rules
    again = [D.DerivedRule.from_json(o) for o in json.loads(json.dumps([r.to_json() for r in rules]))]
    assert again == rules


def test_a_rule_is_checked_when_read() -> None:
    with pytest.raises(ValueError):
        D.DerivedRule(relation="product", derived="x", inputs=("a", "b"), tolerance=0, agree_share=1,
                      exact_share=1, rows=50)
    with pytest.raises(ValueError):
        D.DerivedRule(relation=D.SUM, derived="a", inputs=("a", "b"), tolerance=0, agree_share=1,
                      exact_share=1, rows=50)


def test_a_start_shared_by_two_rules_never_moves() -> None:
    """Two ages from one birth date: moving the birth year for one rule would break the other, so both ages
    are recomputed and the birth date stays as generated."""
    rule = by_column(D.find_rules(visits(), KINDS))["x"]
    second = D.DerivedRule(**{**rule.to_json(), "derived": "x2", "inputs": (rule.inputs[0], "w")})
    generated = pd.DataFrame({"b": pd.to_datetime(["1990-06-15", "2000-02-29"]),
                              "v": pd.to_datetime(["2020-06-14", "2021-03-01"]), "x": [10, 40],
                              "w": pd.to_datetime(["2010-01-01", "2011-01-01"]), "x2": [5, 5]})
    fixed, changed = D.apply_rules(generated, [rule, second])
    assert fixed["b"].tolist() == generated["b"].tolist() and "b" not in changed
    assert np.all(np.abs(D.years_between(fixed["b"], fixed["v"]) - fixed["x"]) <= rule.tolerance)
    assert np.all(np.abs(D.years_between(fixed["b"], fixed["w"]) - fixed["x2"]) <= rule.tolerance)
