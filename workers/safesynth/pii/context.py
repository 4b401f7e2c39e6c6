"""Evidence across columns and rows: what a column is, judged by the table around it.

A column is rarely alone: a family-name column sits beside a given-name or
full-name column, an email's local part is built from the row's name, a
birth date is the one column of dates that spans decades in a table about
people. Each rule below reads the per-column verdicts (`classify`) and the
rows, and adds `Signal`s with source "rows" (row-level agreement between
columns) or "table" (table-level context), which `evidence.decide` combines
with the column's own evidence. Details name columns and percentages, never
values.

* **people**: the table describes people when some column holds a person's
  name, email, phone, SSN, street address, medical record number or birth
  date at or above the threshold. `plan` reads it for the "in doubt, replace"
  rule; every evidence column carries the list.
* **full name = given + family**: a one-word column whose value equals the
  first (last) word of a full-name column in at least `AGREE_MIN` of rows
  is a given (family) name: signal `ROW_WEIGHT` × share.
* **beside a given/family name**: in a table with a given-name column, a
  one-word, mostly distinct column whose values are mostly census surnames is
  a family name (and vice versa): `NEIGHBOUR_BASE` + `NEIGHBOUR_GAIN` × rate.
* **email built from the name**: a one-word column whose value (≥ 3
  letters) appears in the row's email local part in `AGREE_MIN` of rows is
  a name: signal `EMAIL_WEIGHT` × share.
* **birth dates**: in a table about people, a date column whose middle 90 %
  spans at least `BIRTH_MIN_SPREAD_YEARS`, lies in the past and starts at
  most `BIRTH_MAX_AGE_YEARS` back is a date of birth (signal `BIRTH_WEIGHT`;
  children included, so no minimum age).
* **sex columns, cities, name pairs, keys** (round two, see `sex_columns`,
  `_place_signals`, the pair rule in `_name_signals`, `_key_signals`). The reference date is handed in by the caller (the stage
  uses the day it runs), never read here.
* **age = reference − birth year**: an integer column that, with a detected
  birth-date column, gives a constant (±1) age + birth year in
  `AGREE_MIN` of rows is an age.

Rules run in two rounds, because a column found in the first round (a family
name) can make the table a table about people for the second (birth dates).

Over 400 lines on purpose: the two rounds of cross-column rules read each other's findings, so they stay in one module.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import Optional

import numpy as np
import pandas as pd

from safesynth.pii import gazetteer, patterns, places, recognizers
from safesynth.pii.evidence import NAME_FAMILY, ColumnEvidence, Signal, decide
from safesynth.schema import ColumnKind, TableSchema
from safesynth.spec.models import PiiEntity

E = PiiEntity
PEOPLE_ENTITIES = NAME_FAMILY | {E.EMAIL_ADDRESS, E.PHONE_NUMBER, E.US_SSN, E.STREET_ADDRESS,
                                 E.MEDICAL_RECORD_NUMBER, E.DATE_OF_BIRTH}
STRINGS = frozenset({ColumnKind.CATEGORICAL, ColumnKind.IDENTIFIER, ColumnKind.TEXT})
AGREE_MIN = 0.5
ROW_WEIGHT = 0.95
EMAIL_WEIGHT = 0.8
NEIGHBOUR_BASE = 0.3
NEIGHBOUR_GAIN = 0.5
NEIGHBOUR_MIN_RATE = 0.3  # weighted share of census/Faker names a neighbour column needs
FULL_MIN_RATE = 0.25  # weighted full-name score a multi-word column needs for the row agreement
NEIGHBOUR_MAX_CITY = 0.35  # weighted share of known cities from which a neighbour column is towns, not names
MIN_DISTINCT = 20  # a neighbour column with fewer distinct values is a category, not names
BIRTH_WEIGHT = 0.75
BIRTH_MIN_SPREAD_YEARS = 20.0
BIRTH_MAX_AGE_YEARS = 110.0  # the earliest birth date (5th percentile) lies at most this long before the reference
BIRTH_FUTURE_YEARS = 0.1  # and the latest (95th percentile) not after it
SEX_WORDS = frozenset({"male", "female", "man", "woman", "men", "women", "boy", "girl", "non-binary", "nonbinary",
                       "other", "unknown", "diverse", "intersex", "transgender"})
SEX_CORE = frozenset({"male", "female", "man", "woman", "men", "women", "boy", "girl"})
SEX_MIN_SHARE = 0.95  # share of rows whose value is a sex/gender word
PAIR_WEIGHT = 0.4
PAIR_MIN_NAME = 0.1  # name-list rate each column of a given/family pair needs (invented names score low, not 0)
PAIR_MIN_DISTINCT = 20
PLACE_WEIGHT_BASE = 0.3
PLACE_WEIGHT_GAIN = 0.5
PLACE_MIN_RATE = 0.4  # weighted share of known cities (or place-shaped names) a column needs, in a people table
PLACE_SHAPE_WEIGHT = 0.5  # a place-shaped unknown name ("Lake Davidberg") counts this much as a city
KEY_DISTINCT = 0.9  # share of distinct values among non-null rows from which a code column is a per-row key
KEY_WEIGHT = 0.45  # below the threshold on purpose: the plan's "in doubt, replace" rule acts on it and says so
KEY_MAX_CHARS = 24
DIRECT_MIN = 0.25  # a direct identifier this sure (the doubt floor) already identifies the table's people
KEY_PATTERN_MAX = 0.25  # pattern evidence from which a code column is left to its pattern
KEY_MAX_SKEW = 0.12  # Kolmogorov–Smirnov distance from uniform above which varying-width numbers are quantities
BANK_DIGITS = (8, 17)  # US bank account numbers (ABA: no standard length; 8–17 digits in practice)
BANK_MAX_PHONE = 0.5  # share of values that are valid NANP numbers above which digits are phones, not accounts
DIRECT_IDS = frozenset({E.US_SSN, E.EMAIL_ADDRESS, E.PHONE_NUMBER, E.US_BANK_NUMBER, E.MEDICAL_RECORD_NUMBER,
                        E.US_DRIVER_LICENSE, E.US_PASSPORT, E.CREDIT_CARD, E.IBAN_CODE})
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./:#-]*")
AGE_WEIGHT = 0.75
AGE_AGREE = 0.8  # share of rows where age + birth year sits within a year of its most common value
MAX_ROWS = 5000  # rows compared per pair of columns (a seeded sample beyond that)
_LETTERS = re.compile(r"[^a-z]")


def _norm(v: object) -> Optional[str]:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
        return None
    s = str(v).strip().casefold()
    return s or None


def _single_word(ev: ColumnEvidence) -> bool:
    return ev.kind in STRINGS and 0 < ev.names.mean_tokens < 1.5


def _full_name(ev: ColumnEvidence, threshold: float) -> bool:
    """Could hold full names (2–4 words, no value pattern such as an email): the row agreement itself is then
    the evidence."""
    patterned = any(s.source == "pattern" and s.score >= 0.5 for s in ev.signals)
    return ev.kind in STRINGS and 1.5 <= ev.names.mean_tokens <= 4.0 and not patterned


def _named(full: ColumnEvidence, single: ColumnEvidence, pick: str) -> bool:
    """Agreement counts only between columns with some name evidence ("Acura Integra" = make + model is not a
    person): the full column's values score as full names, NER calls them persons, or the one-word column's
    values score as the member it would be."""
    ner_person = any(s.source == "ner" and s.entity in NAME_FAMILY and s.score >= 0.2 for s in full.signals)
    own = single.names.first if pick == "first" else single.names.last
    return full.names.full >= FULL_MIN_RATE or ner_person or own >= NEIGHBOUR_MIN_RATE


def people_columns(evidence: dict[str, ColumnEvidence], threshold: float) -> tuple[str, ...]:
    """Columns whose detected entity shows the table is about people."""
    return tuple(c for c, ev in evidence.items()
                 if ev.entity in PEOPLE_ENTITIES and ev.confidence >= threshold)


def _agreement(a: pd.Series, b: pd.Series, pick: str) -> float:
    """Share of rows (both present) where a equals the first/last word of b, or appears in b's email local part."""
    hits = total = 0
    for x, y in zip(a.tolist(), b.tolist()):
        xs, ys = _norm(x), _norm(y)
        if xs is None or ys is None:
            continue
        total += 1
        if pick == "email":
            local = _LETTERS.sub("", ys.partition("@")[0])
            word = _LETTERS.sub("", xs)
            hits += len(word) >= 3 and word in local
            continue
        words = [t for t in gazetteer.tokens(ys.replace(",", " ")) if t not in gazetteer.TITLES]
        if not words:
            continue
        if "," in ys:  # "Family, Given": the family name comes first
            first, last = gazetteer.tokens(ys.partition(",")[2])[:1], gazetteer.tokens(ys.partition(",")[0])[-1:]
        else:
            first, last = words[:1], words[-1:]
        hits += xs in (first if pick == "first" else last)
    return hits / total if total else 0.0


def _rows(df: pd.DataFrame, seed: int) -> pd.DataFrame:
    if len(df) <= MAX_ROWS:
        return df
    pos = np.sort(np.random.default_rng([seed, 1]).choice(len(df), MAX_ROWS, replace=False))
    return df.iloc[pos]


def _name_signals(df: pd.DataFrame, evidence: dict[str, ColumnEvidence], threshold: float) -> dict[str, list[Signal]]:
    out: dict[str, list[Signal]] = {c: [] for c in evidence}
    singles = [c for c, ev in evidence.items() if _single_word(ev)]
    fulls = [c for c, ev in evidence.items() if _full_name(ev, threshold)]
    emails = [c for c, ev in evidence.items() if ev.entity == E.EMAIL_ADDRESS and ev.confidence >= threshold]
    for c in singles:
        for p in fulls:
            for pick, entity in (("first", E.FIRST_NAME), ("last", E.LAST_NAME)):
                if not _named(evidence[p], evidence[c], pick):
                    continue
                share = _agreement(df[c], df[p], pick)
                if share >= AGREE_MIN:
                    word = "first" if pick == "first" else "last"
                    out[c].append(Signal("rows", entity, ROW_WEIGHT * share,
                                         f"equals the {word} word of full-name column {p!r} in {share:.0%} of rows"))
                    out[p].append(Signal("rows", E.PERSON, ROW_WEIGHT * share,
                                         f"its {word} word equals column {c!r} in {share:.0%} of rows"))
        for m in emails:
            share = _agreement(df[c], df[m], "email")
            if share >= AGREE_MIN:
                ev = evidence[c]
                entity = E.FIRST_NAME if ev.names.first > ev.names.last else E.LAST_NAME
                out[c].append(Signal("rows", entity, EMAIL_WEIGHT * share,
                                     f"appears in the local part of email column {m!r} in {share:.0%} of rows"))
    # a one-word name column beside another: given beside family, family beside given
    firsts = [c for c, ev in evidence.items() if ev.entity == E.FIRST_NAME and ev.confidence >= threshold]
    lasts = [c for c, ev in evidence.items() if ev.entity == E.LAST_NAME and ev.confidence >= threshold]
    for c in singles:
        ev = evidence[c]
        distinct = df[c].nunique(dropna=True)
        if distinct < MIN_DISTINCT or _city_rate(df[c]) >= NEIGHBOUR_MAX_CITY:
            continue  # a category, or towns ("Toledo", "Medina" are surnames too): the place rule decides
        for group, rate, entity, label in ((firsts, ev.names.last, E.LAST_NAME, "given-name"),
                                           (lasts, ev.names.first, E.FIRST_NAME, "family-name")):
            others = [o for o in group if o != c]
            if others and rate >= NEIGHBOUR_MIN_RATE:
                out[c].append(Signal("table", entity, NEIGHBOUR_BASE + NEIGHBOUR_GAIN * rate,
                                     f"beside {label} column {others[0]!r}; its values score {rate:.0%} "
                                     f"as {'family' if entity == E.LAST_NAME else 'given'} names (Census/Faker)"))
    # two adjacent one-word columns of many distinct words, each with some name evidence: given + family
    order = [c for c in df.columns if c in evidence]
    for a, b in itertools.pairwise(order):
        ea, eb = evidence[a], evidence[b]
        if not (_pair_candidate(df[a], ea) and _pair_candidate(df[b], eb)):
            continue
        reverse = ea.names.last > ea.names.first and eb.names.first > eb.names.last
        for c, other, entity in ((a, b, E.LAST_NAME if reverse else E.FIRST_NAME),
                                 (b, a, E.FIRST_NAME if reverse else E.LAST_NAME)):
            member = "given" if entity == E.FIRST_NAME else "family"
            out[c].append(Signal("table", entity, PAIR_WEIGHT,
                                 f"one-word names beside one-word names in column {other!r} (both many distinct "
                                 f"words with some name-list evidence): the {member} half of a name"))
    return out


def _pair_candidate(s: pd.Series, ev: ColumnEvidence) -> bool:
    """A column that could be half of a given/family pair: single words, many of them, letters only, some listed
    names, and not already something else (a city list, a pattern)."""
    if not _single_word(ev) or max(ev.names.first, ev.names.last) < PAIR_MIN_NAME:
        return False
    if ev.entity is not None and ev.entity not in NAME_FAMILY and ev.confidence >= 0.3:
        return False
    if s.nunique(dropna=True) < PAIR_MIN_DISTINCT:
        return False
    sample = [str(v) for v in s.dropna().unique()[:200]]
    letters = sum(v.replace("-", "").replace("'", "").isalpha() for v in sample)
    return letters >= 0.95 * len(sample) and places.city_rate(sample) < NEIGHBOUR_MAX_CITY


def _city_rate(s: pd.Series) -> float:
    return places.city_rate([str(v) for v in s.dropna().unique()[:300]])


def sex_columns(df: pd.DataFrame, evidence: dict[str, ColumnEvidence]) -> tuple[str, ...]:
    """Columns holding a sex or gender in words ("female", "male", …): a table with one describes people.
    Letters such as "F"/"M" are left out (felony/misdemeanour, sizes)."""
    out = []
    for c, ev in evidence.items():
        if ev.kind not in (ColumnKind.CATEGORICAL, ColumnKind.IDENTIFIER, ColumnKind.TEXT):
            continue
        values = df[c].dropna().astype(str).str.strip().str.casefold()
        if len(values) < 10 or values.nunique() > 8:
            continue
        if values.isin(SEX_WORDS).mean() >= SEX_MIN_SHARE and values.isin(SEX_CORE).any():
            out.append(c)
    return tuple(out)


def _place_signals(df: pd.DataFrame, evidence: dict[str, ColumnEvidence], people: Sequence[str],
                   threshold: float) -> dict[str, list[Signal]]:
    """In a table about people, a column of known city names (or place-shaped ones) is where they live."""
    out: dict[str, list[Signal]] = {c: [] for c in evidence}
    if not people:
        return out
    for c, ev in evidence.items():
        if ev.kind not in STRINGS or c in people:
            continue
        if ev.entity is not None and ev.confidence >= threshold and ev.entity not in (E.CITY, E.LOCATION):
            continue
        distinct = [str(v).strip() for v in df[c].dropna().unique()[:500]]
        distinct = [v for v in distinct if v and len(v.split()) <= 4]
        if len(distinct) < 2:
            continue
        rate = sum(max(places.city_weight(v), PLACE_SHAPE_WEIGHT * patterns.place_shaped(v))
                   for v in distinct) / len(distinct)
        if rate >= PLACE_MIN_RATE:
            out[c].append(Signal("table", E.CITY, PLACE_WEIGHT_BASE + PLACE_WEIGHT_GAIN * rate,
                                 f"in a table about people, its distinct values score {rate:.0%} as known cities "
                                 "(GeoNames/Faker) or place-shaped names: where the people live"))
    return out


def _skew(x: np.ndarray) -> float:
    """Kolmogorov–Smirnov distance between `x` and the uniform distribution over [min, max]: keys drawn or
    assigned over a range are near 0, measured quantities (log-normal salaries, weights) far from it."""
    lo, hi = float(x.min()), float(x.max())
    if hi <= lo:
        return 1.0
    u = np.sort((x - lo) / (hi - lo))
    n = len(u)
    ranks = np.arange(1, n + 1) / n
    return float(max(np.max(ranks - u), np.max(u - (ranks - 1 / n))))


def _key_signals(df: pd.DataFrame, evidence: dict[str, ColumnEvidence], people: Sequence[str],
                 threshold: float) -> dict[str, list[Signal]]:
    """Per-row codes in a table about people: account numbers by shape, and the table's only person key.

    A mostly distinct code (digits, or letters and digits without spaces) that does not follow the row order
    is a key. Digits-only keys of 10–17 digits, or with leading zeros, that are mostly not valid NANP phone
    numbers have the shape of bank account numbers. Any other key is the person's identifier when the table
    identifies its people by nothing else (no SSN, email, phone, account, MRN …); in a table that does, a
    further key numbers records (orders, visits) and is left to its name."""
    out: dict[str, list[Signal]] = {c: [] for c in evidence}
    if not people:
        return out
    direct = [c for c, ev in evidence.items() if ev.entity in DIRECT_IDS and ev.confidence >= DIRECT_MIN]
    keys: list[str] = []
    for c, ev in evidence.items():
        if ev.kind not in (ColumnKind.INTEGER, ColumnKind.IDENTIFIER, ColumnKind.CATEGORICAL) or c in people:
            continue
        if ev.entity is not None and ev.confidence >= threshold:
            continue
        if ev.entity in (E.DATE_TIME, E.DATE_OF_BIRTH) or any(s.score < 0 and s.source == "name" for s in ev.signals):
            continue
        if any(s.source == "pattern" and s.score >= KEY_PATTERN_MAX and s.entity != E.ZIP_CODE for s in ev.signals):
            continue  # a validated format (phone, SSN …) already says what it is; the doubt rule acts on it
        raw = df[c].dropna()
        texts = [patterns.as_text(v) for v in raw.tolist()]
        if len(texts) < 20 or len(set(texts)) < KEY_DISTINCT * len(texts):
            continue
        if not all(len(t) <= KEY_MAX_CHARS and _CODE.fullmatch(t) for t in texts):
            continue
        if sum(any(ch.isdigit() for ch in t) for t in texts) < KEY_DISTINCT * len(texts):
            continue
        numeric = pd.to_numeric(raw, errors="coerce")
        if numeric.notna().all():
            if numeric.is_monotonic_increasing or numeric.is_monotonic_decreasing:
                continue  # follows the row order: a row number
            if len({len(t) for t in texts}) > 1 and _skew(numeric.to_numpy(dtype=float)) > KEY_MAX_SKEW:
                continue  # varying width and far from uniform over its range: a quantity (weights, salaries)
        digits_only = all(t.isdigit() for t in texts)
        lengths = {len(t) for t in texts}
        if (digits_only and BANK_DIGITS[0] <= min(lengths) and max(lengths) <= BANK_DIGITS[1]
                and (min(lengths) >= 10 or any(t.startswith("0") for t in texts))):
            sample = texts[:200]
            phones = sum(patterns.nanp_valid(t) for t in sample) / len(sample)
            cards = sum(recognizers.whole_value(t, E.CREDIT_CARD) for t in sample) / len(sample)
            if phones < BANK_MAX_PHONE and cards < 0.5:
                out[c].append(Signal("table", E.US_BANK_NUMBER, KEY_WEIGHT,
                                     f"in a table about people, distinct {min(lengths)}–{max(lengths)}-digit codes, "
                                     f"{phones:.0%} valid phone numbers, {cards:.0%} Luhn-valid: account numbers"))
                continue
        keys.append(c)
    if not direct and not any(out[c] for c in out):
        for c in keys:
            out[c].append(Signal("table", E.IDENTIFIER, KEY_WEIGHT,
                                 "a per-row code (mostly distinct, not in row order) in a table about people that "
                                 "has no other identifier of its people: their key"))
    return out


def _years(s: pd.Series) -> Optional[np.ndarray]:
    stamps = s if pd.api.types.is_datetime64_any_dtype(s) else pd.to_datetime(s, errors="coerce", format="mixed")
    stamps = stamps.dropna()
    if len(stamps) < 10:
        return None
    ts = pd.DatetimeIndex(stamps)
    if ts.tz is not None:
        ts = ts.tz_localize(None)
    return np.asarray(ts.year + (ts.dayofyear - 1) / 365.25, dtype=float)


def _date_signals(df: pd.DataFrame, evidence: dict[str, ColumnEvidence], people: Sequence[str],
                  today: date) -> dict[str, list[Signal]]:
    out: dict[str, list[Signal]] = {c: [] for c in evidence}
    if not people:
        return out
    ref = today.year + (today.timetuple().tm_yday - 1) / 365.25
    has_dob = any(ev.entity == E.DATE_OF_BIRTH for ev in evidence.values())
    dob_years: dict[str, np.ndarray] = {}
    for c, ev in evidence.items():
        dated = ev.kind == ColumnKind.DATETIME or (ev.entity in (E.DATE_TIME, E.DATE_OF_BIRTH) and ev.kind in STRINGS)
        if not dated:
            continue
        years = _years(df[c])
        if years is None:
            continue
        if ev.entity == E.DATE_OF_BIRTH:
            dob_years[c] = years
            continue
        if has_dob or any(s.score < 0 and s.entity == E.DATE_OF_BIRTH for s in ev.signals):
            continue
        lo, hi = np.percentile(years, [5, 95])
        ago, oldest = ref - hi, ref - lo
        if (hi - lo >= BIRTH_MIN_SPREAD_YEARS and ago >= -BIRTH_FUTURE_YEARS
                and oldest <= BIRTH_MAX_AGE_YEARS):
            out[c].append(Signal("table", E.DATE_OF_BIRTH, BIRTH_WEIGHT,
                                 f"in a table about people, past dates spread over {hi - lo:.0f} years, from "
                                 f"{oldest:.0f} to {max(ago, 0.0):.0f} years before the reference date: birth dates"))
            dob_years[c] = years
    # age + birth year is constant: an age column
    for d, _ in list(dob_years.items())[:1]:
        births = _years(df[d])
        if births is None:
            continue
        for c, ev in evidence.items():
            if ev.kind != ColumnKind.INTEGER:
                continue
            pair = pd.DataFrame({"age": pd.to_numeric(df[c], errors="coerce"),
                                 "born": pd.to_datetime(df[d], errors="coerce", format="mixed")}).dropna()
            if len(pair) < 10:
                continue
            total = pair["age"].to_numpy(dtype=float) + pair["born"].dt.year.to_numpy(dtype=float)
            mode = float(pd.Series(np.round(total)).mode().iloc[0])
            share = float(np.mean(np.abs(total - mode) <= 1.0))
            if share >= AGE_AGREE and 0 <= pair["age"].min() and pair["age"].max() <= 125:
                out[c].append(Signal("rows", E.AGE, AGE_WEIGHT * share,
                                     f"with birth-date column {d!r}, age + birth year is constant (±1) in "
                                     f"{share:.0%} of rows: ages"))
    return out


def apply_context(df: pd.DataFrame, schema: TableSchema, evidence: dict[str, ColumnEvidence], *, threshold: float,
                  today: date, seed: int = 0) -> dict[str, ColumnEvidence]:
    """`evidence` with the signals of the rules above added (two rounds) and the people columns recorded."""
    rows = _rows(df, seed)
    current = dict(evidence)
    for _ in range(2):
        extra = _name_signals(rows, current, threshold)
        current = {c: decide(evidence[c], extra[c]) if extra[c] else evidence[c] for c in evidence}
    sexed = sex_columns(rows, current)
    dates = _date_signals(rows, current, people_columns(current, threshold) + sexed, today)
    dated = {c: decide(ev, dates[c]) if dates[c] else ev for c, ev in current.items()}
    people = people_columns(dated, threshold) + sexed
    found = _place_signals(rows, dated, people, threshold)
    keys = _key_signals(rows, dated, people, threshold)
    dated = {c: decide(ev, found[c] + keys[c]) if found[c] or keys[c] else ev for c, ev in dated.items()}
    people = people_columns(dated, threshold) + sexed
    return {c: replace(ev, people=people) for c, ev in dated.items()}
