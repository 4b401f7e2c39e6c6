"""Round two of the table-level rules: keys, account numbers, cities, sex columns, name pairs, birth dates of
children, and the city list (`places`)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from safesynth.pii import places
from safesynth.pii.classify import classify_table
from safesynth.pii.context import sex_columns
from safesynth.pii.plan import build_plan
from safesynth.schema import coerce_to_schema, infer_schema
from safesynth.spec.models import PiiEntity as E
from safesynth.spec.models import PiiSpec

TODAY = date(2025, 6, 1)
GIVEN = ["Maria", "James", "Linda", "Robert", "Patricia", "Michael", "Jennifer", "William", "Elizabeth", "David",
         "Susan", "Richard", "Jessica", "Joseph", "Sarah", "Thomas", "Karen", "Daniel", "Nancy", "Paul"]
FAMILY = ["Okonkwo", "Villanueva", "Abernathy", "Quiroz", "Thibodeaux", "Nakashima", "Delacruz", "Garcia",
          "Castellanos", "Pruitt", "Zelaya", "Haralson", "Bustamante", "Ledbetter", "Smith", "Johnson", "Brown",
          "Miller", "Davis", "Wilson", "Moore", "Taylor", "Anderson"]


def classify(df: pd.DataFrame, **spec):  # type: ignore[no-untyped-def]
    schema = infer_schema(df.astype(str))
    typed = coerce_to_schema(df.astype(str), schema)
    pii = PiiSpec(**spec)
    ev = classify_table(typed, schema, pii, today=TODAY)
    return ev, build_plan(schema, ev, pii)


def patients(n: int = 300, seed: int = 0, **extra: list[object]) -> pd.DataFrame:
    """Given + family names and a sex column, no contact details; `extra` columns appended."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "c1": [GIVEN[int(i)] for i in rng.integers(0, len(GIVEN), n)],
        "c2": [FAMILY[int(i)] for i in rng.integers(0, len(FAMILY), n)],
        "c3": [("female", "male")[int(i)] for i in rng.integers(0, 2, n)],
        **extra,
    })


def test_a_per_row_code_is_the_key_of_a_people_table_without_other_identifiers() -> None:
    rng = np.random.default_rng(1)
    codes = [f"PAT-{int(x):08d}" for x in rng.choice(10**8, 300, replace=False)]
    ev, plan = classify(patients(c4=codes))
    assert ev["c4"].entity == E.IDENTIFIER
    assert plan.get("c4").changes and "in doubt" in plan.get("c4").reason
    assert all(c not in s.detail for s in ev["c4"].signals for c in codes[:20])


def test_a_record_number_beside_a_direct_identifier_is_kept() -> None:
    rng = np.random.default_rng(2)
    df = patients(c4=[int(x) for x in rng.integers(10**8, 10**9, 300)],
                  c5=[f"user{i}@gmail.com" for i in range(300)])
    ev, plan = classify(df)
    assert ev["c5"].entity == E.EMAIL_ADDRESS
    assert not plan.get("c4").changes


@pytest.mark.parametrize("values", [
    list(range(1000, 1300)),  # follows the row order: a row number
    [int(x) for x in np.random.default_rng(3).lognormal(11, 0.5, 300)],  # salaries: skewed, varying width
])
def test_row_numbers_and_quantities_are_not_keys(values: list[int]) -> None:
    ev, plan = classify(patients(c4=values))
    assert ev["c4"].entity != E.IDENTIFIER and not plan.get("c4").changes


def test_ten_digit_codes_that_are_not_valid_phones_are_account_numbers() -> None:
    rng = np.random.default_rng(4)
    accounts = ["".join(str(int(d)) for d in rng.integers(0, 10, 10)) for _ in range(300)]
    ev, plan = classify(patients(c4=accounts))
    assert ev["c4"].entity == E.US_BANK_NUMBER and plan.get("c4").changes


def test_valid_bare_us_numbers_stay_phones() -> None:
    rng = np.random.default_rng(5)
    phones = [f"{a}{int(x):07d}" for a, x in zip(rng.choice(["212", "415", "617", "312"], 300),
                                                  rng.integers(2000000, 9999999, 300))]
    ev, _ = classify(patients(c4=phones))
    assert ev["c4"].entity == E.PHONE_NUMBER


def test_two_big_cities_in_a_people_table_are_a_city_column() -> None:
    df = patients(c4=list(np.random.default_rng(6).choice(["chicago", "boston"], 300)))
    ev, plan = classify(df)
    assert ev["c4"].entity == E.CITY and plan.get("c4").changes


def test_towns_that_are_also_surnames_are_towns() -> None:
    towns = ["Toledo", "Medina", "Soria", "Zamora", "Burgos", "Valencia", "Leon", "Cordoba", "Granada", "Murcia",
             "Sevilla", "Malaga", "Madrid", "Barcelona", "Bilbao", "Girona", "Lugo", "Huesca", "Palencia", "Almeria",
             "Salamanca", "Segovia", "Cuenca", "Teruel"]
    df = patients(c4=list(np.random.default_rng(7).choice(towns, 300)))
    ev, _ = classify(df)
    assert ev["c4"].entity == E.CITY


def test_invented_given_and_family_names_side_by_side() -> None:
    rng = np.random.default_rng(8)
    syll = ["ra", "vel", "ed", "tor", "rhen", "wyn", "bran"]
    given = ["".join(rng.choice(syll, 2)).title() for _ in range(300)]
    family = ["".join(rng.choice(syll, 3)).title() for _ in range(300)]
    given[::2] = [GIVEN[i % len(GIVEN)] for i in range(150)]  # half of the rows hold listed names
    family[::2] = [FAMILY[i % len(FAMILY)] for i in range(150)]
    df = pd.DataFrame({"c1": given, "c2": family, "c3": list(rng.choice(["female", "male"], 300))})
    ev, plan = classify(df)
    for c in ("c1", "c2"):  # which half is which is not decided for invented names; both are replaced
        assert ev[c].entity in (E.FIRST_NAME, E.LAST_NAME) and plan.get(c).changes
        assert "table" in {s.source for s in ev[c].signals}


def test_birth_dates_of_children_and_adults() -> None:
    rng = np.random.default_rng(9)
    born = [(pd.Timestamp(TODAY) - pd.Timedelta(days=int(d))).date().isoformat()
            for d in rng.integers(365, 95 * 365, 300)]
    ev, plan = classify(patients(c4=born))
    assert ev["c4"].entity == E.DATE_OF_BIRTH and plan.get("c4").changes


@pytest.mark.parametrize("values, is_sex", [
    (["female", "male"], True), (["Male", "Female", "Other"], True), (["woman", "man"], True),
    (["F", "M"], False), (["open", "closed"], False), (["other", "unknown"], False),
])
def test_sex_columns(values: list[str], is_sex: bool) -> None:
    df = pd.DataFrame({"c1": [values[i % len(values)] for i in range(50)]})
    ev, _ = classify(df)
    assert bool(sex_columns(df, ev)) is is_sex


@pytest.mark.parametrize("value, known", [
    ("Chicago", True), ("chicago", True), ("Kraków", True), ("Krakow", True), ("München", True),
    ("鴨川市", True), ("哈尔滨", True), ("Mouse", False), ("Wireless Mouse", False), ("12 Main St", False), ("", False),
])
def test_city_list(value: str, known: bool) -> None:
    assert (places.city_weight(value) > 0) is known


def test_city_weights_follow_population() -> None:
    assert places.city_weight("Chicago") > places.city_weight("Abilene") > 0
    assert places.population_weight(15_000) == pytest.approx(0.4)
    assert places.population_weight(15_000_000) == pytest.approx(1.0)
