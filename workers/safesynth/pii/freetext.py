"""PII inside free text: find spans, replace them in place, keep the rest of the text.

Spans come from three detectors, merged by `spans.resolve_overlaps`:

1. **known values**: the originals this row holds in detected PII columns
   (its patient's first and last name, email, phone, ID, ZIP, birth date in
   common spellings, ...), matched as whole words (names case-sensitively).
   They get exactly the replacement the row's cell got, so "John" in
   `first_name` and "John" in this row's note become the same fake name, and
   "DOB 04/16/2018" moves with the shifted birth date;
2. **patterns**: the validated patterns of `patterns.find_spans` (emails,
   phones, SSNs, Luhn-valid cards, IBANs, IP addresses, URLs);
3. **NER**: presidio over spaCy (`ner`) for PERSON and LOCATION (others only
   when spec.pii.entities asks), scores ≥ spec.pii.nerScoreThreshold.

Replacement follows the column's action when a spec rule gives one (redact,
hash, mask, tokenize, fake; drop removes the column), else per entity:
fake for names (token-wise through the job's `NameBook`, so a name in a note
and in a column agree), emails, phones and the like; `<DATE_TIME>` for dates
(no consistent fake date exists for "last Tuesday"). One span text maps to
one replacement within the job.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional

import pandas as pd

from safesynth.pii import patterns
from safesynth.pii.actions.base import Action, ValueContext, get_action, value_key
from safesynth.pii.ner import NER_ENTITIES
from safesynth.pii.spans import Span, resolve_overlaps
from safesynth.spec.models import PiiAction, PiiEntity

if TYPE_CHECKING:
    from safesynth.pii.ner import Ner

E = PiiEntity
DEFAULT_TEXT_ENTITIES = frozenset({E.PERSON, E.EMAIL_ADDRESS, E.PHONE_NUMBER, E.US_SSN, E.CREDIT_CARD, E.IBAN_CODE,
                                   E.IP_ADDRESS, E.URL, E.LOCATION})
PATTERN_ENTITIES = frozenset(p.entity for p in patterns.SPAN_PATTERNS)
# Span actions when no spec rule names one.
TEXT_DEFAULT_ACTIONS = {E.DATE_TIME: PiiAction.REDACT, E.ORGANIZATION: PiiAction.FAKE}
CHUNK = 256  # texts per NER batch
MIN_KNOWN_CHARS = 3  # shorter originals (initials, "Al") are left to NER: too many false matches


def text_entities(allowed: Optional[Iterable[PiiEntity]]) -> frozenset[PiiEntity]:
    """Entities looked for in free text: the defaults, or those spec.pii.entities lists (names and places
    by their span types)."""
    if allowed is None:
        return DEFAULT_TEXT_ENTITIES
    chosen = set(allowed)
    out = chosen & (PATTERN_ENTITIES | NER_ENTITIES)
    if chosen & {E.PERSON, E.FIRST_NAME, E.LAST_NAME}:
        out.add(E.PERSON)
    if chosen & {E.CITY, E.STATE, E.STREET_ADDRESS, E.LOCATION}:
        out.add(E.LOCATION)
    return frozenset(out)


def detect_spans(texts: Sequence[str], ner: Optional["Ner"], entities: frozenset[PiiEntity],
                 threshold: float) -> list[list[Span]]:
    """Pattern and NER spans of each text (overlaps not yet resolved).

    NER spans must start with a capital letter: in running English text names
    and places are capitalized, and the small model otherwise tags ordinary
    lower-case words ('"barky" cough') as people. Lower-case names are still
    found when the row's own columns hold them (known values)."""
    ner_wanted = entities & NER_ENTITIES
    found = ner.analyze(texts, ner_wanted, threshold) if (ner is not None and ner_wanted) else [[] for _ in texts]
    return [patterns.find_spans(t, entities) + [s for s in n if t[s.start:s.start + 1].isupper()]
            for t, n in zip(texts, found)]


@dataclass(frozen=True)
class Known:
    """An original value this row holds in a PII column, and what the column replaced it with."""

    text: str
    entity: PiiEntity
    replacement: str


_NAME_LIKE = frozenset({E.PERSON, E.FIRST_NAME, E.LAST_NAME, E.CITY, E.STATE, E.LOCATION, E.ORGANIZATION,
                        E.STREET_ADDRESS})
# Known values found in text are typed by their span entity, so they merge with NER spans of the same text.
_SPAN_ENTITY = {E.FIRST_NAME: E.PERSON, E.LAST_NAME: E.PERSON, E.CITY: E.LOCATION}


def known_spans(text: str, known: Sequence[Known]) -> tuple[list[Span], dict[tuple[int, int], str]]:
    """Whole-word occurrences of the row's originals; names case-sensitive, the rest case-insensitive."""
    spans: list[Span] = []
    replacements: dict[tuple[int, int], str] = {}
    for k in sorted(known, key=lambda k: -len(k.text)):
        if len(k.text) < MIN_KNOWN_CHARS:
            continue
        flags = 0 if k.entity in _NAME_LIKE else re.IGNORECASE
        if (k.text not in text) if not flags else (k.text.casefold() not in text.casefold()):
            continue  # cheap test first: most rows do not mention most of their values
        for m in re.finditer(rf"(?<!\w){re.escape(k.text)}(?!\w)", text, flags):
            entity = _SPAN_ENTITY.get(k.entity, k.entity)
            spans.append(Span(entity, m.start(), m.end(), 1.0, "known"))
            replacements.setdefault((m.start(), m.end()), k.replacement)
    return spans, replacements


@dataclass
class FreeTextStats:
    scanned: int = 0
    changed: int = 0
    spans: Counter[str] = field(default_factory=Counter)  # by entity
    sources: Counter[str] = field(default_factory=Counter)  # by detector

    def as_dict(self) -> dict[str, Any]:
        return {"valuesScanned": self.scanned, "valuesChanged": self.changed,
                "spans": dict(sorted(self.spans.items())), "spansBySource": dict(sorted(self.sources.items()))}


class SpanReplacer:
    """Replacement text for spans, consistent per (entity, value) within the job."""

    def __init__(self, base: ValueContext, rule_action: Optional[PiiAction]) -> None:
        self.base = base
        self.rule_action = rule_action
        self._cache: dict[tuple[PiiEntity, str], str] = {}

    def action_for(self, entity: PiiEntity) -> Action:
        if self.rule_action is not None:
            return get_action(self.rule_action)
        return get_action(TEXT_DEFAULT_ACTIONS.get(entity, PiiAction.FAKE))

    def replace(self, original: str, entity: PiiEntity) -> str:
        key = (entity, value_key(entity, original))
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        action = self.action_for(entity)
        ctx = ValueContext(entity=entity, params=self.base.params, keys=self.base.keys, fakes=self.base.fakes,
                           names=self.base.names, kind=None, column=self.base.column)
        if action.name == PiiAction.FAKE and entity == E.PERSON:
            new = self.base.names.full(original)
        elif action.name == PiiAction.FAKE and entity == E.DATE_TIME:
            new = f"<{entity.value}>"
        else:
            new = str(action.operate(original, ctx))
        self._cache[key] = new
        return new


def replace_text(text: str, spans: list[Span], known: dict[tuple[int, int], str], replacer: SpanReplacer,
                 stats: FreeTextStats) -> str:
    """`text` with each resolved span replaced, right to left so offsets stay valid."""
    out = text
    for s in sorted(resolve_overlaps(spans), key=lambda s: -s.start):
        original = text[s.start:s.end]
        new = known.get((s.start, s.end)) if s.source == "known" else None
        if new is None:
            new = replacer.replace(original, s.entity)
        if new != original:
            out = out[: s.start] + new + out[s.end:]
            stats.spans[s.entity.value] += 1
            stats.sources[s.source] += 1
    return out


def replace_column(
    values: pd.Series,
    *,
    replacer: SpanReplacer,
    entities: frozenset[PiiEntity],
    ner: Optional["Ner"],
    threshold: float,
    known_by_row: Optional[Sequence[Sequence[Known]]] = None,
    advance: Callable[[int], None] = lambda n: None,
) -> tuple[pd.Series, FreeTextStats]:
    """The column with spans replaced (nulls kept), and counts of what changed."""
    stats = FreeTextStats()
    out = values.astype(object).copy()
    positions = [i for i, v in enumerate(values.tolist()) if isinstance(v, str) and v.strip()]
    for start in range(0, len(positions), CHUNK):
        chunk = positions[start:start + CHUNK]
        texts = [values.iat[i] for i in chunk]
        detected = detect_spans(texts, ner, entities, threshold)
        for i, text, found in zip(chunk, texts, detected):
            known: dict[tuple[int, int], str] = {}
            spans = found
            if known_by_row is not None and known_by_row[i]:
                kspans, known = known_spans(text, known_by_row[i])
                spans = kspans + found
            new = replace_text(text, spans, known, replacer, stats) if spans else text
            stats.scanned += 1
            if new != text:
                stats.changed += 1
                out.iat[i] = new
        advance(len(chunk))
    return out.astype(values.dtype) if str(values.dtype) == "string" else out, stats
