"""The evidence types the classifier and the table-level pass share, and how signals combine into a verdict.

A `Signal` is one piece of evidence (source, entity, strength, reason without values); a `ColumnEvidence`
the verdict on one column. `decide` turns a column's signals into its entity and confidence: positive
signals combine by noisy-OR per entity, with the name family (PERSON, FIRST_NAME, LAST_NAME) merged into
one member; a negative signal s multiplies its entity's score by (1 + s). `classify` (one column) and
`context` (across columns and rows) both produce signals and call `decide`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from safesynth.pii import gazetteer
from safesynth.schema import ColumnKind
from safesynth.spec.models import PiiEntity

E = PiiEntity
NAME_FAMILY = frozenset({E.PERSON, E.FIRST_NAME, E.LAST_NAME})
MULTI_TOKEN = 1.5
SPECIFIC_MIN = 0.5  # a validated pattern this strong names the entity of a column whose name only says "ID"  # mean words per value from which a name column holds full names


def noisy_or(scores: Iterable[float]) -> float:
    """1 − Π(1 − s): the combined strength of independent pieces of evidence."""
    out = 1.0
    for s in scores:
        out *= 1.0 - min(max(s, 0.0), 1.0)
    return 1.0 - out


@dataclass(frozen=True)
class Signal:
    """One piece of evidence: where it came from, for which entity, how strong, and why (no values)."""

    source: str
    entity: PiiEntity
    score: float
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "entity": self.entity.value, "score": round(self.score, 3),
                "detail": self.detail}


@dataclass(frozen=True)
class ColumnEvidence:
    """The classifier's verdict on one column."""

    column: str
    kind: ColumnKind
    entity: Optional[PiiEntity]
    confidence: float
    signals: tuple[Signal, ...] = ()
    sampled: int = 0
    scores: dict[PiiEntity, float] = field(default_factory=dict)
    # Free text: share of scanned values holding at least one span of each entity.
    span_rates: dict[PiiEntity, float] = field(default_factory=dict)
    note: str = ""
    # What the table-level pass (`context`) reads: the entities the column name hints at, the name-list
    # rates of the values, and the share of distinct values NER tagged as a person.
    hinted: frozenset[PiiEntity] = frozenset()
    names: gazetteer.NameRates = field(default_factory=lambda: gazetteer.NameRates(0.0, 0.0, 0.0, 0.0))
    # Columns whose detected entities show that the table describes people (set by `context`).
    people: tuple[str, ...] = ()
    distinct: int = 0  # distinct values in the sample

    @property
    def free_text(self) -> bool:
        return self.kind == ColumnKind.TEXT and self.entity is None


def decide(ev: ColumnEvidence, extra: Sequence[Signal] = ()) -> ColumnEvidence:
    """The entity and confidence that `ev.signals` (plus `extra`) support.

    Positive signals combine by noisy-OR per entity (the name family merged into one member, see the module
    docstring); a negative signal s for E multiplies E's score by (1 + s) (−0.75 keeps a quarter, −1 vetoes).
    """
    signals = tuple(ev.signals) + tuple(extra)
    scores = combine(list(signals), set(ev.hinted), ev.names)
    for s in signals:
        if s.score >= 0:
            continue
        targets = [e for e in scores if e == s.entity or (s.entity in NAME_FAMILY and e in NAME_FAMILY)]
        for e in targets:
            scores[e] *= max(0.0, 1.0 + s.score)
    base = dict(column=ev.column, kind=ev.kind, signals=signals, sampled=ev.sampled, span_rates=ev.span_rates,
                note=ev.note, hinted=ev.hinted, names=ev.names, people=ev.people, distinct=ev.distinct)
    if not scores:
        return ColumnEvidence(entity=None, confidence=0.0, scores={}, **base)  # type: ignore[arg-type]
    entity = max(scores, key=lambda e: (scores[e], -list(E).index(e)))
    if entity == E.IDENTIFIER:
        # a generic ID name ("tax_ref") holding validated values of a specific entity (SSNs): the specific one
        specific = [e for e in scores if e != E.IDENTIFIER and scores[e] >= SPECIFIC_MIN
                    and any(s.source == "pattern" and s.entity == e and s.score >= SPECIFIC_MIN for s in signals)]
        if specific:
            entity = max(specific, key=lambda e: scores[e])
    if ev.kind == ColumnKind.TEXT and not any(s.entity == entity and s.source in ("name", "pattern", "rows")
                                              for s in signals):
        # Text with no name or pattern evidence for one entity is free text, whatever NER says about parts of it.
        return ColumnEvidence(entity=None, confidence=0.0, scores=scores, **base)  # type: ignore[arg-type]
    return ColumnEvidence(entity=entity, confidence=scores[entity], scores=scores, **base)  # type: ignore[arg-type]


def combine(signals: list[Signal], hinted: set[PiiEntity], rates_names: gazetteer.NameRates) -> dict[PiiEntity, float]:
    """Noisy-OR per entity, with the name family merged into one member (see module docstring)."""
    by_entity: dict[PiiEntity, list[float]] = defaultdict(list)
    for s in signals:
        if s.score > 0:
            by_entity[s.entity].append(s.score)
    scores = {e: noisy_or(v) for e, v in by_entity.items()}
    family = [e for e in scores if e in NAME_FAMILY]
    if family:
        merged = noisy_or(s.score for s in signals if s.entity in NAME_FAMILY and s.score > 0)
        for e in family:
            del scores[e]
        # evidence across columns says which member (equals the last word of a full name: a family name)
        across = [s for s in signals if s.entity in NAME_FAMILY and s.source in ("rows", "table") and s.score > 0]
        member = max(across, key=lambda s: s.score).entity if across and not (hinted & NAME_FAMILY) \
            else _name_member(hinted, rates_names)
        scores[member] = merged
    return scores


def _name_member(hinted: set[PiiEntity], rates_names: gazetteer.NameRates) -> PiiEntity:
    """The family member a name column is: a strong name hint decides, else the values do."""
    for e in (E.FIRST_NAME, E.LAST_NAME, E.PERSON):
        if e in hinted:
            return e
    if rates_names.mean_tokens >= MULTI_TOKEN or rates_names.mean_tokens == 0.0:
        return E.PERSON
    return E.FIRST_NAME if rates_names.first >= rates_names.last else E.LAST_NAME


