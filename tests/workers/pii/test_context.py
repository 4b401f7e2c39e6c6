"""Evidence across columns and rows: surnames beside names, emails built from names, birth dates, ages."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from safesynth.pii.classify import classify_table
from safesynth.pii.plan import build_plan
from safesynth.schema import coerce_to_schema, infer_schema
from safesynth.spec.models import PiiEntity as E
from safesynth.spec.models import PiiSpec

TODAY = date(2025, 6, 1)
# Real-looking surnames that Faker's en_US list does not hold, so only the Census list or the context finds them.
SURNAMES = ["Okonkwo", "Villanueva", "Abernathy", "Quiroz", "Thibodeaux", "Nakashima", "Delacruz", "Washington",
            "Oyelaran", "Castellanos", "Mcgillicuddy", "Pruitt", "Zelaya", "Haralson", "Bustamante", "Ledbetter"]
GIVEN = ["Maria", "James", "Linda", "Robert", "Patricia", "Michael", "Jennifer", "William", "Elizabeth", "David",
         "Susan", "Richard", "Jessica", "Joseph", "Sarah", "Thomas"]


def people(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    first = [GIVEN[i % len(GIVEN)] + ("" if i < len(GIVEN) else f"{'abcdefgh'[i % 8]}") for i in range(n)]
    first = [f.rstrip("abcdefgh") if i % 3 else f for i, f in enumerate(first)]
    last = [f"{SURNAMES[i % len(SURNAMES)]}{'' if i < 48 else ['son', 'ez', 'er', 'ski'][i % 4]}" for i in range(n)]
    born = [pd.Timestamp("1940-01-01") + pd.Timedelta(days=int(d)) for d in rng.integers(0, 60 * 365, n)]
    return pd.DataFrame({
        "c1": first, "c2": last,
        "c3": [f"{f.lower()}.{s.lower()}@gmail.com" for f, s in zip(first, last)],
        "c4": [b.date().isoformat() for b in born],
        "c5": [int(rng.integers(1, 5000)) for _ in range(n)],
        "c6": [(pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(d))).date().isoformat()
               for d in rng.integers(0, 500, n)],
    })


def classify(df: pd.DataFrame, today: date = TODAY, **spec):  # type: ignore[no-untyped-def]
    schema = infer_schema(df.astype(str))
    typed = coerce_to_schema(df.astype(str), schema)
    pii = PiiSpec(**spec)
    ev = classify_table(typed, schema, pii, today=today)
    return ev, build_plan(schema, ev, pii)


def sources(ev, column):  # type: ignore[no-untyped-def]
    return {s.source for s in ev[column].signals if s.score > 0}


def test_surname_beside_given_names_and_in_the_email_is_a_last_name() -> None:
    ev, plan = classify(people())
    assert ev["c2"].entity == E.LAST_NAME and plan.get("c2").pii
    assert "rows" in sources(ev, "c2")  # appears in the email's local part
    assert all(v not in s.detail for s in ev["c2"].signals for v in SURNAMES)  # reasons never quote values


def test_last_word_of_a_full_name_column() -> None:
    df = people()
    df = pd.DataFrame({"who": [f"{f} {s}" for f, s in zip(df["c1"], df["c2"])], "x": df["c2"], "n": df["c5"]})
    ev, plan = classify(df)
    assert ev["x"].entity == E.LAST_NAME and plan.get("x").pii
    assert any("last word of full-name column 'who'" in s.detail for s in ev["x"].signals)


def test_same_words_without_people_around_stay_below_threshold() -> None:
    df = people()[["c2", "c5"]]
    ev, _ = classify(df)
    assert not any(s.source in ("rows", "table") for s in ev["c2"].signals)


def test_birth_dates_from_their_spread_in_a_table_about_people() -> None:
    ev, plan = classify(people())
    assert ev["c4"].entity == E.DATE_OF_BIRTH and plan.get("c4").pii
    assert "table" in sources(ev, "c4")
    # recent business dates in the same table are not birth dates
    assert ev["c6"].entity != E.DATE_OF_BIRTH and not plan.get("c6").pii


def test_birth_date_rule_needs_people_and_reads_the_given_reference_date() -> None:
    alone = people()[["c4", "c5"]]
    ev, _ = classify(alone)
    assert ev["c4"].entity != E.DATE_OF_BIRTH
    # seen from 1990, the same dates end in the future: not birth dates
    ev_1990, _ = classify(people(), today=date(1990, 1, 1))
    assert ev_1990["c4"].entity != E.DATE_OF_BIRTH


def test_age_agrees_with_birth_year_and_is_kept_under_default() -> None:
    df = people()
    years = pd.to_datetime(df["c4"]).dt.year
    df["c7"] = 2025 - years - (np.arange(len(df)) % 2)
    ev, plan = classify(df)
    assert ev["c7"].entity == E.AGE and not plan.get("c7").changes
    assert "quasi-identifier" in plan.get("c7").reason


@pytest.mark.parametrize("policy", ["default", "hipaaSafeHarbor"])
def test_people_columns_are_recorded_for_the_plan(policy: str) -> None:
    ev, _ = classify(people(), policy=policy)
    assert set(ev["c5"].people) >= {"c1", "c2", "c3"}
