"""The hipaaSafeHarbor policy, per identifier category, and the one Safe Harbor map the report and audit share."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from safesynth.pii import hipaa
from safesynth.pii.actions.base import ActionParams, ValueContext
from safesynth.pii.actions.generalize import Generalize
from safesynth.pii.classify import classify_table
from safesynth.pii.keys import KeyRing
from safesynth.pii.persona import Fakes, NameBook
from safesynth.pii.plan import build_plan
from safesynth.pii.replace import apply_plan
from safesynth.schema import ColumnKind as K
from safesynth.schema import coerce_to_schema, infer_schema
from safesynth.spec.models import PiiAction as A
from safesynth.spec.models import PiiEntity as E
from safesynth.spec.models import PiiSpec

KEYS = KeyRing(b"test-key-0123456789abcdef", "environment")


def ctx(entity: E, kind: K, params: ActionParams = ActionParams()) -> ValueContext:
    fakes = Fakes("en_US", KEYS)
    return ValueContext(entity=entity, params=params, keys=KEYS, fakes=fakes, names=NameBook(fakes), kind=kind)


@pytest.mark.parametrize("zip_code, expected", [
    ("02134", "021**"), ("03601", "000**"), ("05901-1234", "000**"), ("89301", "000**"), ("89401", "894**"),
    ("10201", "000**"), ("20301", "000**"), ("55601", "000**"), ("87801", "000**"), ("90210", "902**"),
])
def test_zip_keeps_three_digits_and_zeroes_small_areas(zip_code: str, expected: str) -> None:
    assert Generalize().operate(zip_code, ctx(E.ZIP_CODE, K.IDENTIFIER)) == expected


def test_restricted_prefixes_are_the_17_of_the_2000_census() -> None:
    assert len(hipaa.RESTRICTED_ZIP3) == 17 and "2000 Census" in hipaa.RESTRICTED_ZIP3_SOURCE


@pytest.mark.parametrize("age, expected", [(35, "35"), (89, "89"), (90, "90+"), (104, "90+")])
def test_ages_over_89_pooled_others_kept(age: int, expected: str) -> None:
    assert Generalize().operate(age, ctx(E.AGE, K.INTEGER, ActionParams(age_top_only=True))) == expected


def test_dates_keep_only_the_year() -> None:
    assert Generalize().operate(pd.Timestamp("1961-07-04"), ctx(E.DATE_TIME, K.DATETIME)) == 1961


def patients(n: int = 120, seed: int = 0) -> pd.DataFrame:
    from faker import Faker

    fk = Faker("en_US")
    fk.seed_instance(seed)
    rng = np.random.default_rng(seed)
    born = [pd.Timestamp("1925-01-01") + pd.Timedelta(days=int(d)) for d in rng.integers(0, 70 * 365, n)]
    return pd.DataFrame({
        "name": [fk.name() for _ in range(n)],
        "email": [fk.email() for _ in range(n)],
        "phone": [fk.phone_number() for _ in range(n)],
        "fax": [fk.phone_number() for _ in range(n)],
        "ssn": [fk.ssn() for _ in range(n)],
        "mrn": [f"MRN{fk.numerify('#######')}" for _ in range(n)],
        "account_number": [fk.numerify("##########") for _ in range(n)],
        "drivers_license": [fk.bothify("?#######").upper() for _ in range(n)],
        "website": [fk.url() for _ in range(n)],
        "ip_address": [fk.ipv4() for _ in range(n)],
        "street_address": [fk.street_address() for _ in range(n)],
        "zip": [rng.choice(["03601", "02134", "89301", "60614"]) for _ in range(n)],
        "state": [fk.state_abbr() for _ in range(n)],
        "date_of_birth": [b.date().isoformat() for b in born],
        "admission_date": [(pd.Timestamp("2023-01-01") + pd.Timedelta(days=int(d))).date().isoformat()
                           for d in rng.integers(0, 365, n)],
        "age": [int(rng.integers(20, 100)) for _ in range(n)],
        "patient_id": [f"P{100000 + i}" for i in range(n)],
        "systolic_bp": [int(rng.normal(125, 15)) for _ in range(n)],
    })


def run(policy: str):  # type: ignore[no-untyped-def]
    df = patients().astype(str)
    schema = infer_schema(df)
    typed = coerce_to_schema(df, schema)
    pii = PiiSpec(policy=policy)
    plan = build_plan(schema, classify_table(typed, schema, pii, today=date(2025, 6, 1)), pii)
    return typed, plan, apply_plan(typed, plan, KEYS, pii, schema=schema)


def test_safe_harbor_policy_handles_every_detectable_category() -> None:
    typed, plan, applied = run("hipaaSafeHarbor")
    out = applied.table
    # A names, D/E phone and fax, F email, G SSN, H MRN, J account, K licence, N URL, O IP, R other ids: replaced
    for column in ("name", "email", "phone", "fax", "ssn", "mrn", "account_number", "drivers_license", "website",
                   "ip_address", "patient_id", "street_address"):
        assert plan.get(column).changes, column
        assert not set(typed[column].astype(str)) & set(out[column].astype(str)), column
    # B: ZIP to 3 digits, 000 for the small areas; states kept
    assert set(out["zip"]) == {"000**", "021**", "606**"} and plan.get("state").action == A.KEEP
    # C: every date tied to a person to its year; ages over 89 pooled
    assert plan.get("date_of_birth").action == A.GENERALIZE and plan.get("admission_date").action == A.GENERALIZE
    assert set(out["admission_date"].astype(str)) <= {"2023", "2024"}
    ages = out["age"].astype(str)
    assert "90+" in set(ages) and all(a == "90+" or int(a) <= 89 for a in ages)
    assert not plan.get("systolic_bp").changes


def test_default_policy_keeps_quasi_identifiers() -> None:
    _, plan, _ = run("default")
    assert not plan.get("admission_date").changes and not plan.get("age").changes
    assert plan.get("date_of_birth").action == A.DATE_SHIFT


def test_categories_say_found_not_found_and_not_checked() -> None:
    columns = [{"column": "zip", "entity": "ZIP_CODE", "pii": True, "action": "generalize"},
               {"column": "note", "entity": None, "pii": False, "action": "fake",
                "freeText": {"spans": {"PERSON": 3}}},
               {"column": "fav", "entity": "URL", "pii": False, "action": "keep"}]
    cats = {c["code"]: c for c in hipaa.categories(columns, stage_ran=True)}
    assert len(cats) == 18
    assert cats["B"]["status"] == "found" and "removed or replaced" in cats["B"]["handling"][0]
    assert cats["A"]["status"] == "found" and cats["A"]["columns"] == ["note"]
    assert cats["N"]["status"] == "not found"  # below the threshold: not PII, so not found
    assert cats["P"]["status"] == "not checked" and cats["Q"]["status"] == "not checked"
    assert cats["E"]["status"] == "not found" and cats["E"]["coveredBy"] == "D"
    assert {c["status"] for c in hipaa.categories(columns, stage_ran=False)} == {"not checked"}
