"""Combining evidence into per-column decisions."""

from __future__ import annotations

import pandas as pd
import pytest

from safesynth.pii.classify import ColumnEvidence, classify_column, classify_table, noisy_or, sample_values
from safesynth.schema import ColumnKind as K
from safesynth.schema import infer_column, infer_schema
from safesynth.spec.models import PiiEntity as E
from safesynth.spec.models import PiiSpec

FIRST = ["Maria", "James", "Linda", "Robert", "Patricia", "Michael", "Jennifer", "William", "Elizabeth", "David",
         "Susan", "Richard", "Jessica", "Joseph", "Sarah", "Thomas", "Karen", "Charles", "Nancy", "Daniel",
         "Lisa", "Matthew", "Betty", "Anthony", "Sandra"]


def decide(name: str, values: list, ner=None, **kw) -> ColumnEvidence:  # type: ignore[no-untyped-def]
    col = infer_column(name, pd.Series(values, dtype=object))
    return classify_column(name, col, values, ner=ner, **kw)


def test_noisy_or() -> None:
    assert noisy_or([]) == 0.0 and noisy_or([0.5, 0.5]) == 0.75 and noisy_or([1.0, 0.2]) == 1.0


def test_name_and_pattern_agree() -> None:
    ev = decide("email", [f"user{i}@example.com" for i in range(30)])
    assert ev.entity == E.EMAIL_ADDRESS and ev.confidence > 0.95
    assert {s.source for s in ev.signals} == {"name", "pattern"}
    assert all("example" not in s.detail for s in ev.signals)  # reasons never quote values


def test_pattern_alone_suffices_for_validated_formats() -> None:
    ev = decide("c7", [f"GB82WEST1234569876543{i}" for i in range(1)] + ["DE89370400440532013000"] * 9)
    assert ev.entity == E.IBAN_CODE and ev.confidence >= 0.5


def test_values_contradicting_the_name_win() -> None:
    ev = decide("email", ["sent", "not sent", "bounced", "pending", "sent", "sent"] * 5)
    assert ev.confidence < 0.5 and any(s.source == "values" for s in ev.signals)


def test_booleans_and_empty_columns_are_never_pii() -> None:
    ev = decide("email", ["yes", "no"] * 10)
    assert ev.kind == K.BOOLEAN and ev.entity is None and ev.confidence == 0.0


def test_incompatible_kinds_are_not_considered() -> None:
    ev = decide("first_name", [1.5, 2.25, 3.75] * 10)
    assert ev.kind == K.FLOAT and ev.entity is None


def test_generic_ids_need_distinct_values() -> None:
    assert decide("record_id", [f"REC-{i:05d}" for i in range(50)]).entity == E.IDENTIFIER
    assert decide("test_id", ["covid", "flu"] * 25).entity is None


def test_name_family_member_follows_values() -> None:
    ev = decide("name", FIRST)
    assert ev.entity == E.FIRST_NAME and ev.confidence >= 0.5
    full = decide("name", [f"{f} Smith" for f in FIRST])
    assert full.entity == E.PERSON
    assert decide("fake_last_name", ["westerling", "targaryen", "karstark"] * 5).entity == E.LAST_NAME


def test_few_distinct_values_are_a_category_not_people() -> None:
    ev = decide("colour", ["Brown", "White", "Green", "Black"] * 20)
    assert ev.confidence < 0.5


def test_ner_finds_names_without_a_hint(ner_engine) -> None:  # type: ignore[no-untyped-def]
    names = [f"{first} {last}" for first, last in zip(FIRST, ["Garcia", "Smith", "Nguyen", "Okafor", "Kowalski"] * 5)]
    without = decide("col3", names)
    with_ner = decide("col3", names, ner=ner_engine)
    assert with_ner.entity == E.PERSON and with_ner.confidence > without.confidence
    assert any(s.source == "ner" for s in with_ner.signals)


def test_ner_is_skipped_when_evidence_is_decisive(ner_engine) -> None:  # type: ignore[no-untyped-def]
    ev = decide("email", [f"user{i}@example.com" for i in range(30)], ner=ner_engine)
    assert not any(s.source == "ner" for s in ev.signals)


def test_free_text_gets_span_rates(ner_engine) -> None:  # type: ignore[no-untyped-def]
    notes = [f"Seen today with her husband {f} Smith; call 555-123-{1000 + i} if worse." for i, f in enumerate(FIRST)]
    ev = decide("note", notes, ner=ner_engine)
    assert ev.kind == K.TEXT and ev.free_text and ev.span_rates[E.PHONE_NUMBER] == 1.0
    assert ev.span_rates.get(E.PERSON, 0) > 0.5


def test_entities_filter_limits_candidates() -> None:
    ev = decide("email", [f"user{i}@example.com" for i in range(30)], allowed=frozenset({E.PERSON}))
    assert ev.entity is None


def test_classify_table_samples_reproducibly() -> None:
    df = pd.DataFrame({"email": [f"u{i}@example.com" for i in range(300)], "n": range(300)})
    schema = infer_schema(df)
    pii = PiiSpec(sampleSize=50)
    a = classify_table(df, schema, pii, seed=1)
    assert a["email"].sampled == 50 and a["email"].entity == E.EMAIL_ADDRESS and a["n"].entity is None
    s = pd.Series(["a", None, " ", "b"] * 30)
    assert sample_values(s, 10, 3, 0) == sample_values(s, 10, 3, 0) and None not in sample_values(s, 10, 3, 0)
    assert " " not in sample_values(s, 100, 3, 0)


@pytest.mark.parametrize(("name", "values", "entity"), [
    ("phone", ["(555) 123-4567", "555.765.4321", "+1-555-222-3333"] * 5, E.PHONE_NUMBER),
    ("zip", [f"{90000 + i}" for i in range(20)], E.ZIP_CODE),
    ("ssn", ["123-45-6789", "234-56-7890"] * 5, E.US_SSN),
    ("state", ["CA", "NY", "TX", "WA"] * 5, E.STATE),
    ("dob", ["1980-01-02", "1975-12-30", "2001-07-04"] * 5, E.DATE_OF_BIRTH),
    ("ip", ["10.0.0.1", "192.168.2.3"] * 5, E.IP_ADDRESS),
    ("street_address", ["12 Main St", "96937 Sharon Loaf", "5 Oak Avenue Apt 2"] * 5, E.STREET_ADDRESS),
])
def test_common_columns(name: str, values: list, entity: E) -> None:
    ev = decide(name, values)
    assert ev.entity == entity and ev.confidence >= 0.5


def test_nine_digit_numbers_with_impossible_ssn_areas_are_not_ssns() -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    orders = [int(x) for x in rng.integers(10**8, 10**9, 200)]
    ev = decide("c4", orders)
    assert ev.entity != E.US_SSN or ev.confidence == 0.0
    assert any(s.source == "values" and s.entity == E.US_SSN and "never issues" in s.detail for s in ev.signals)
    plausible = [f"{a:03d}{g:02d}{s:04d}" for a, g, s in zip(rng.integers(1, 600, 200), rng.integers(1, 99, 200),
                                                            rng.integers(1, 9999, 200))]
    assert not any(s.source == "values" for s in decide("c4", plausible).signals)


@pytest.mark.parametrize("name", ["order_no", "invoice_ref", "ship_date", "tracking_id"])
def test_business_record_names_rule_out_person_identifiers(name: str) -> None:
    values = [f"A{i:06d}" for i in range(60)] if "date" not in name else [f"2024-01-{1 + i % 28:02d}" for i in range(60)]
    ev = decide(name, values)
    assert ev.confidence < 0.5 and any("business record" in s.detail for s in ev.signals)


@pytest.mark.slow
def test_a_name_column_of_products_is_not_people(ner_engine) -> None:  # type: ignore[no-untyped-def]
    products = ["Wireless Mouse", "Steel Cable", "Desk Lamp", "Garden Hose", "USB-C Charger", "Ceramic Mug",
                "Wool Blanket", "Travel Kettle", "Cotton Towel", "Glass Vase", "Leather Wallet", "Bamboo Tray"] * 4
    ev = decide("name", products, ner=ner_engine)
    assert ev.confidence < 0.5 and any(s.source == "values" and "not people's names" in s.detail for s in ev.signals)
    people = decide("name", [f"{f} Garcia" for f in FIRST], ner=ner_engine)
    assert people.entity == E.PERSON and people.confidence >= 0.5


@pytest.mark.parametrize("values, entity", [
    (["Andrej-Seip-Weg 6", "69 avenue de Da Costa", "ul. Wieniawskiego 439", "Calle Mayor 12", "Rua Augusta 54",
      "Hauptstraße 3a", "Via Roma 7", "Kerkstraat 21"] * 4, E.STREET_ADDRESS),
    ([f"MRN{1000000 + 7 * i}" for i in range(30)], E.MEDICAL_RECORD_NUMBER),
])
def test_values_alone_find_international_streets_and_mrns(values: list, entity: E) -> None:
    ev = decide("c9", values)
    assert ev.entity == entity and ev.confidence >= 0.5
