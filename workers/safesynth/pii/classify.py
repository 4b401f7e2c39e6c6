"""Per-column PII decisions from combined evidence: entity, confidence, and the signals that fired.

Evidence for an entity E comes as signals, each a number in [0, 1]:

* **name**: the column name matches a hint rule for E (`hints`; 0.3–0.75);
* **pattern**: when at least half the sampled values match a validated
  pattern of E (`patterns`), the mean over values of the best matching
  pattern's reliability (a column mixing phone formats counts them all);
* **gazetteer**: a share of the distinct sampled values are known given or
  family names, or "Given Family" pairs (`gazetteer`): 0.55 × r (0.6 for full
  names), times the cardinality factor below;
* **ner**: a share of distinct sampled values is covered (≥ 60 % of its
  characters) by one presidio/spaCy entity (`ner`): PERSON 0.75 × r,
  LOCATION 0.45 × r, ORGANIZATION 0.35 × r, times the cardinality factor.

They combine by noisy-OR, conf(E) = 1 − Π(1 − sᵢ) (Pearl, *Probabilistic
Reasoning in Intelligent Systems*, 1988, §4.3.2): independent clues each
raise the confidence, none can lower it. Then:

* **contradiction**: when E has a validating pattern (email, phone, SSN, card,
  IBAN, IP, URL, postcode, US state) or is a date, but under 20 % of at least
  5 sampled values look like E, conf(E) is multiplied by 0.25 (a column
  "email" holding yes/no is not an email column);
* **cardinality**: name and place evidence from values alone is scaled by
  min(1, distinct values / 20): a column with a handful of distinct values is
  a category ("Brown", "White", "Green"), not a list of people;
* **kinds**: an entity is only considered for compatible column kinds (no
  email in a float column); booleans and empty columns are never PII;
* **names** are one family: given-name, family-name and person evidence add
  up, and the member is chosen by the name hint, else by the values (two or
  more words: PERSON; one: FIRST_NAME or LAST_NAME, whichever list matches
  more). Place evidence from NER likewise supports a hinted CITY, STATE or
  STREET_ADDRESS.

The column's entity is the best-scoring candidate; `plan` compares its
confidence with spec.pii.threshold. NER runs only where needed: on string
columns whose other evidence is not already decisive (≥ 0.9), over at most
`NER_SAMPLE` distinct values. Free-text columns (kind text with no
structured entity) get span statistics for the preview instead.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any, Optional

import numpy as np
import pandas as pd

from safesynth.pii import gazetteer, hints, patterns, places
from safesynth.pii.evidence import (
    MULTI_TOKEN, NAME_FAMILY, ColumnEvidence, Signal, combine, decide, noisy_or)
from safesynth.pii.spans import Span
from safesynth.schema import ColumnKind, ColumnSchema, TableSchema
from safesynth.spec.models import PiiEntity, PiiSpec

if TYPE_CHECKING:
    from safesynth.pii.ner import Ner

__all__ = ["MULTI_TOKEN", "NAME_FAMILY", "ColumnEvidence", "Signal", "classify_column", "classify_table", "decide",
           "noisy_or", "sample_values"]

E = PiiEntity
STRINGS = frozenset({ColumnKind.CATEGORICAL, ColumnKind.IDENTIFIER, ColumnKind.TEXT})
CODES = STRINGS | {ColumnKind.INTEGER}
COMPATIBLE: dict[PiiEntity, frozenset[ColumnKind]] = {
    **{e: STRINGS for e in (E.PERSON, E.FIRST_NAME, E.LAST_NAME, E.EMAIL_ADDRESS, E.URL, E.STREET_ADDRESS, E.CITY,
                            E.STATE, E.LOCATION, E.ORGANIZATION, E.IBAN_CODE, E.IP_ADDRESS)},
    **{e: CODES for e in (E.PHONE_NUMBER, E.US_SSN, E.CREDIT_CARD, E.ZIP_CODE, E.IDENTIFIER,
                          E.MEDICAL_RECORD_NUMBER, E.US_DRIVER_LICENSE, E.US_PASSPORT, E.US_BANK_NUMBER)},
    E.DATE_OF_BIRTH: STRINGS | {ColumnKind.DATETIME},
    E.DATE_TIME: STRINGS | {ColumnKind.DATETIME},
    E.AGE: frozenset({ColumnKind.INTEGER, ColumnKind.FLOAT}),
}
PLACE_FAMILY = frozenset({E.CITY, E.STATE, E.STREET_ADDRESS, E.LOCATION})
DATE_ENTITIES = frozenset({E.DATE_OF_BIRTH, E.DATE_TIME})
# Identifiers that belong to a person whatever else the name says ("customer_order_ref" is still not one).
PERSON_IDS = frozenset({E.US_SSN, E.MEDICAL_RECORD_NUMBER, E.US_DRIVER_LICENSE, E.US_PASSPORT, E.US_BANK_NUMBER})
# What a business-record name ("order_no", "ship_date") rules out: codes that would identify a person, dates.
BUSINESS_ENTITIES = (E.IDENTIFIER, E.US_SSN, E.PHONE_NUMBER, E.DATE_TIME, E.DATE_OF_BIRTH)

GAZETTEER_WEIGHT = 0.55
GAZETTEER_FULL_WEIGHT = 0.6
NER_WEIGHT = {E.PERSON: 0.75, E.LOCATION: 0.45, E.ORGANIZATION: 0.35}
NER_COVERAGE = 0.6  # share of a value's non-space characters an entity must cover to count as a vote
NER_SAMPLE = 200  # distinct values per column sent to NER
NER_TEXT_SAMPLE = 50  # free-text values per column scanned for the preview
DECISIVE = 0.9  # other evidence this strong makes NER unnecessary
CARDINALITY_FULL = 20  # distinct values at which value-only name/place evidence counts fully
CONTRADICT_RATE = 0.2
CONTRADICT_MIN_VALUES = 5
CONTRADICT_FACTOR = 0.25
CITY_WEIGHT = 0.7  # population-weighted: a column of cities of 1.5 million scores 0.56 on its own
CITY_NER_RATE = 0.25  # weighted share of listed cities from which NER's LOCATION votes count for CITY
PLACE_MIN_RATE = 0.25  # share of place-shaped values from which the shape counts as evidence of a city column


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def classify_column(
    name: str,
    column: ColumnSchema,
    sample: Sequence[Any],
    *,
    ner: Optional["Ner"] = None,
    allowed: Optional[frozenset[PiiEntity]] = None,
    ner_threshold: float = 0.5,
) -> ColumnEvidence:
    """The decision for one column from its name, schema kind and a sample of non-null values."""
    kind = column.kind
    if kind in (ColumnKind.BOOLEAN, ColumnKind.EMPTY):
        return ColumnEvidence(name, kind, None, 0.0, (), len(sample), note=f"{kind.value} columns hold no PII")

    def ok(entity: PiiEntity) -> bool:
        return kind in COMPATIBLE.get(entity, frozenset()) and (allowed is None or entity in allowed)

    texts = [patterns.as_text(v) for v in sample]
    distinct = list(dict.fromkeys(t for t in texts if t))
    n = len(texts)
    card = min(1.0, len(distinct) / CARDINALITY_FULL)
    signals: list[Signal] = []

    # (a) the column name
    name_hints = [h for h in hints.hints_for(name) if ok(h.entity)]
    for h in name_hints:
        signals.append(Signal("name", h.entity, h.strength, f"column name matches the {h.rule!r} rule"))
    if (kind == ColumnKind.IDENTIFIER and hints.generic_id(name) and ok(E.IDENTIFIER)
            and not any(h.entity == E.IDENTIFIER for h in name_hints)):
        signals.append(Signal("name", E.IDENTIFIER, hints.GENERIC_ID_STRENGTH,
                              "ID-like column name and mostly distinct values"))
    hinted = {h.entity for h in name_hints}
    hinted_strong = {h.entity for h in name_hints if h.strength >= hints.STRONG}

    # (b) value patterns
    evidence = patterns.entity_evidence(texts) if kind != ColumnKind.DATETIME else {}
    looks: dict[PiiEntity, float] = {e: ev.loose_rate for e, ev in evidence.items()}
    if kind == ColumnKind.DATETIME:
        looks[E.DATE_TIME] = 1.0
        signals.append(Signal("pattern", E.DATE_TIME, 0.3, "values are dates (schema kind datetime)"))
    place_shaped = False
    for entity, ev in evidence.items():
        if ev.rate >= patterns.MIN_MATCH_RATE and ok(entity):
            signals.append(Signal("pattern", entity, ev.strength * (card if entity == E.CITY else 1.0),
                                  f"{_pct(ev.rate)} of {n} sampled values match {entity.value} patterns "
                                  f"(mostly {ev.top})"))
        elif entity == E.CITY and ev.rate >= PLACE_MIN_RATE and ok(entity):
            # Town names share few affixes (-ton, -ville, Lake ...): a quarter of them is already telling.
            place_shaped = True
            signals.append(Signal("pattern", entity, ev.strength * card * 2 * ev.rate,
                                  f"{_pct(ev.rate)} of {n} sampled values have a place-name shape"))

    # (c) name lists
    rates_names = gazetteer.NameRates(0.0, 0.0, 0.0, 0.0)
    if kind in STRINGS and distinct and any(ok(e) for e in NAME_FAMILY):
        rates_names = gazetteer.name_rates(distinct)
        if rates_names.mean_tokens < MULTI_TOKEN:
            # One signal, from the better-matching list: many names are on both (James, Thomas).
            entity, r, label = max((E.FIRST_NAME, rates_names.first, "given"), (E.LAST_NAME, rates_names.last, "family"),
                                   key=lambda t: t[1])
            s = GAZETTEER_WEIGHT * r * card
            if s >= 0.05 and ok(entity):
                signals.append(Signal("gazetteer", entity, s,
                                      f"{_pct(r)} of {len(distinct)} distinct values are known {label} names"))
        elif ok(E.PERSON):
            s = GAZETTEER_FULL_WEIGHT * rates_names.full * card
            if s >= 0.05:
                signals.append(Signal("gazetteer", E.PERSON, s, f"{_pct(rates_names.full)} of {len(distinct)} "
                                      "distinct values are a known given name followed by a known family name"))

    # (c') city lists: GeoNames by population and Faker's locale lists (`places`)
    city_rate = 0.0
    if kind in STRINGS and distinct and ok(E.CITY):
        city_rate = places.city_rate(distinct)
        s = CITY_WEIGHT * city_rate * card
        if s >= 0.05:
            signals.append(Signal("gazetteer", E.CITY, s, f"{_pct(city_rate)} of {len(distinct)} distinct values are "
                                  "known cities (GeoNames, population-weighted; Faker locale lists)"))

    # (d) NER, where the rest is not decisive
    span_rates: dict[PiiEntity, float] = {}
    person_votes: Optional[float] = None
    if ner is not None and kind in STRINGS and distinct:
        before = combine(signals, hinted_strong, rates_names)
        if max(before.values(), default=0.0) < DECISIVE:
            if kind == ColumnKind.TEXT:
                span_rates = _text_span_rates(distinct[:NER_TEXT_SAMPLE], ner, ner_threshold, allowed)
            else:
                found, person_votes = _ner_signals(distinct[:NER_SAMPLE], ner, ner_threshold, card,
                                                   hinted | _place_target(place_shaped, city_rate, looks), ok)
                signals.extend(found)

    # contradiction: the name promises a checkable entity the values do not show
    for entity in {s.entity for s in signals if s.score > 0}:
        if entity not in hinted or n < CONTRADICT_MIN_VALUES:
            continue
        checkable = entity in patterns.CHECKABLE or (entity in DATE_ENTITIES and kind != ColumnKind.DATETIME)
        look = looks.get(E.DATE_TIME if entity in DATE_ENTITIES else entity, 0.0)
        if checkable and look < CONTRADICT_RATE:
            signals.append(Signal("values", entity, -(1 - CONTRADICT_FACTOR),
                                  f"only {_pct(look)} of {n} sampled values look like {entity.value}"))
    signals.extend(_precision_signals(name, kind, texts, distinct, hinted, rates_names, person_votes, ner is not None))
    return decide(ColumnEvidence(name, kind, None, 0.0, tuple(signals), n, {}, span_rates,
                                 hinted=frozenset(hinted_strong), names=rates_names, distinct=len(distinct)))


SSN_IMPOSSIBLE_MIN = 0.01  # share of 9-digit values with a never-issued area/group/serial that rules out SSNs
NINE_DIGITS = re.compile(r"\d{9}")
BUSINESS_VETO = -0.75
NAME_CONTRADICT_RATE = 0.2
NAME_CONTRADICT_NER = 0.5  # NER tags many two-word product names as persons: only a majority counts


def ssn_impossible(digits: str) -> bool:
    """SSA never issues area 000, 666 or 900–999, group 00 or serial 0000."""
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000"


def _precision_signals(name: str, kind: ColumnKind, texts: list[str], distinct: list[str], hinted: set[PiiEntity],
                       rates_names: gazetteer.NameRates, person_votes: Optional[float], ner_ran: bool) -> list[Signal]:
    """Negative evidence: what the values or the name say a column is *not* (each with its reason)."""
    out: list[Signal] = []
    # (a) 9-digit numbers without separators are SSNs only if every one could have been issued
    nine = [t for t in texts if NINE_DIGITS.fullmatch(t)]
    if texts and len(nine) >= patterns.MIN_MATCH_RATE * len(texts):
        bad = sum(ssn_impossible(t) for t in nine) / len(nine)
        if bad >= SSN_IMPOSSIBLE_MIN:
            out.append(Signal("values", E.US_SSN, -1.0, f"{_pct(bad)} of {len(nine)} 9-digit values have an area, "
                              "group or serial SSA never issues (000, 666, 9xx; 00; 0000): not SSNs"))
    # (b) a name that says business record (order, invoice, product, shipment ...), unless it also names a person
    word = hints.business_word(name)
    if word and not (hinted & (NAME_FAMILY | PERSON_IDS)):
        for entity in BUSINESS_ENTITIES:
            out.append(Signal("name", entity, BUSINESS_VETO, f"column name says a business record ({word!r}), "
                              "not a person's identifier or date"))
    # (c) a column named like people whose values are not names (a product "name")
    # (only for a weak name such as "name": "first_name" holding unlisted names is still trusted)
    weak_only = all(h.strength < hints.STRONG for h in hints.hints_for(name) if h.entity in NAME_FAMILY)
    if (hinted & NAME_FAMILY and weak_only and ner_ran and len(texts) >= CONTRADICT_MIN_VALUES
            and max(rates_names.first, rates_names.last, rates_names.full) < NAME_CONTRADICT_RATE
            and (person_votes or 0.0) < NAME_CONTRADICT_NER):
        out.append(Signal("values", E.PERSON, -(1 - CONTRADICT_FACTOR),
                          f"only {_pct(max(rates_names.first, rates_names.last, rates_names.full))} of "
                          f"{len(distinct)} distinct values are listed names and NER tags "
                          f"{_pct(person_votes or 0.0)} as persons: not people's names"))
    return out


def _place_target(place_shaped: bool, city_rate: float, looks: dict[PiiEntity, float]) -> set[PiiEntity]:
    """Which place entity NER's LOCATION votes support when the name does not say: STATE for a column of US
    states ("New Hampshire" is place-shaped too), CITY for listed or place-shaped names, else LOCATION."""
    if looks.get(E.STATE, 0.0) >= patterns.MIN_MATCH_RATE:
        return {E.STATE}
    return {E.CITY} if place_shaped or city_rate >= CITY_NER_RATE else set()


def _covered(text: str, spans: list[Span]) -> dict[PiiEntity, float]:
    """Share of the value's non-space characters covered by each entity."""
    total = sum(not c.isspace() for c in text) or 1
    out: dict[PiiEntity, float] = defaultdict(float)
    for s in spans:
        out[s.entity] += sum(not c.isspace() for c in text[s.start:s.end]) / total
    return out


def _ner_signals(values: list[str], ner: "Ner", threshold: float, card: float, hinted: set[PiiEntity],
                 ok: Any) -> tuple[list[Signal], float]:
    """NER votes per entity as signals, and the share of values tagged PERSON (for the name contradiction)."""
    results = ner.analyze(values, entities=NER_WEIGHT.keys(), min_score=threshold)
    votes: dict[PiiEntity, int] = defaultdict(int)
    for text, spans in zip(values, results):
        for entity, share in _covered(text, spans).items():
            if share >= NER_COVERAGE:
                votes[entity] += 1
    out = []
    for entity, count in sorted(votes.items(), key=lambda kv: kv[0].value):
        r = count / len(values)
        target = entity
        if entity == E.LOCATION:
            target = next((e for e in (E.CITY, E.STATE, E.STREET_ADDRESS) if e in hinted), E.LOCATION)
        if entity == E.PERSON:
            target = next((e for e in (E.FIRST_NAME, E.LAST_NAME) if e in hinted), E.PERSON)
        s = NER_WEIGHT[entity] * r * card
        if s >= 0.05 and ok(target):
            out.append(Signal("ner", target, s, f"NER tags {_pct(r)} of {len(values)} distinct values as {entity.value}"))
    return out, votes.get(E.PERSON, 0) / len(values)


def _text_span_rates(values: list[str], ner: "Ner", threshold: float,
                     allowed: Optional[frozenset[PiiEntity]]) -> dict[PiiEntity, float]:
    """For the preview: share of sampled free-text values holding each kind of span."""
    from safesynth.pii.freetext import detect_spans, text_entities

    wanted = text_entities(allowed)
    found = detect_spans(values, ner, wanted, threshold)
    counts: dict[PiiEntity, int] = defaultdict(int)
    for spans in found:
        for entity in {s.entity for s in spans}:
            counts[entity] += 1
    return {e: c / len(values) for e, c in sorted(counts.items(), key=lambda kv: kv[0].value)}


# ------------------------------------------------------------------ whole table


def sample_values(s: pd.Series, size: int, seed: int, salt: int) -> list[Any]:
    """Up to `size` non-null values, a seeded random sample (seed and column position as the stream)."""
    values = s.dropna()
    if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
        values = values[values.astype(str).str.strip() != ""]
    if len(values) > size:
        pos = np.sort(np.random.default_rng([seed, salt]).choice(len(values), size, replace=False))
        values = values.iloc[pos]
    sample: list[Any] = values.tolist()
    return sample


def classify_table(
    df: pd.DataFrame,
    schema: TableSchema,
    pii: PiiSpec,
    *,
    ner: Optional["Ner"] = None,
    seed: int = 0,
    today: Optional[date] = None,
) -> dict[str, ColumnEvidence]:
    """Evidence for every column of `df` (the training split), by name: each column on its own, then the
    evidence across columns and rows (`context`). `today` is the reference date for the birth-date rule
    (the caller's clock; without it the table's latest date stands in)."""
    allowed = frozenset(pii.entities) if pii.entities else None
    out: dict[str, ColumnEvidence] = {}
    for i, col in enumerate(schema.columns):
        if col.name not in df.columns:
            continue
        sample = sample_values(df[col.name], pii.sample_size, seed, i)
        out[col.name] = classify_column(col.name, col, sample, ner=ner, allowed=allowed,
                                        ner_threshold=pii.ner_score_threshold)
    from safesynth.pii.context import apply_context

    present = df[[c for c in out]]
    return apply_context(present, schema, out, threshold=pii.threshold, today=today or latest_date(present),
                         seed=seed)


def latest_date(df: pd.DataFrame) -> date:
    """The latest date any datetime column of `df` holds (a stand-in reference date when none is given);
    1 January 2000 when there is none."""
    latest = None
    for c in df.columns:
        s = df[c]
        if pd.api.types.is_datetime64_any_dtype(s) and s.notna().any():
            m = pd.Timestamp(s.max())
            latest = m if latest is None or m > latest else latest
    return latest.date() if latest is not None else date(2000, 1, 1)
