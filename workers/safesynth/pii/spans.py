"""Entity spans inside a text value, and how overlapping detections are resolved.

A span carries positions, an entity type, a score and the detector that found
it, never the matched text (presidio's convention): callers slice the text
when they replace it.
"""

from __future__ import annotations

from dataclasses import dataclass

from safesynth.spec.models import PiiEntity

# Detectors ranked by how much a hit is trusted when two spans overlap: a value
# this row holds in a detected PII column beats a validated pattern, which
# beats a statistical NER guess.
SOURCE_RANK = {"known": 3, "pattern": 2, "ner": 1}


@dataclass(frozen=True)
class Span:
    """[start, end) of `entity` in some text, found by `source` with `score` (0–1)."""

    entity: PiiEntity
    start: int
    end: int
    score: float
    source: str

    @property
    def length(self) -> int:
        return self.end - self.start


def resolve_overlaps(spans: list[Span]) -> list[Span]:
    """Non-overlapping spans, sorted by start.

    First, a span strictly inside a longer span of the same entity gives way to
    it, whatever found it: a known family name "Williams" inside the NER span
    "Christopher Williams" must not leave "Christopher" behind. Then greedy by
    priority: detector rank, score, length, position (for determinism); a span
    that overlaps one already kept is dropped, so an email's domain is not also
    replaced as a URL.
    """
    spans = [s for s in spans if not any(o is not s and o.entity == s.entity and o.start <= s.start and
                                         s.end <= o.end and o.length > s.length for o in spans)]
    ordered = sorted(spans, key=lambda s: (-SOURCE_RANK.get(s.source, 0), -s.score, -s.length, s.start, s.entity.value))
    kept: list[Span] = []
    for span in ordered:
        if span.length <= 0:
            continue
        if all(span.end <= k.start or span.start >= k.end for k in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s.start)
