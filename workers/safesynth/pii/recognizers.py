"""presidio's predefined pattern recognizers, offline and without an NLP pass, for values and text.

The sibling of `ner` behind the same adapter boundary: these two modules are
the only ones that import presidio. `patterns` asks here for the entities
presidio validates well, and keeps its own rules only for what presidio lacks.

Which recognizers, and the few settings we change (each with its reason):

* `CreditCardRecognizer` — presidio's Luhn check; our issuer pattern instead
  of its regex, which misses 19-digit Visa and 2-series Mastercard numbers
  (24% of Faker's card numbers) and accepts issuer digit 1, which no card
  network uses (a Luhn-valid 16-digit product code is not a card);
* `IbanRecognizer` — as shipped: ISO 7064 mod-97 plus its per-country BBAN
  formats (stricter than a length table);
* `UsSsnRecognizer` — as shipped, minus its "very weak" `12345-6789` and
  `123-456789` patterns (ZIP+4 codes and order numbers, never evidence), plus
  SSA's never-issued area 900–999 (the ITIN range), which presidio accepts;
* `EmailRecognizer` — its regex, with its public-suffix check run on
  tldextract's bundled snapshot: presidio calls `tldextract.extract`, whose
  default extractor downloads the suffix list on first use.

`PhoneRecognizer` is not used (see `patterns`): on 1,000 Faker en_US numbers
it takes 0.49 ms a value (python-phonenumbers' matcher over 8 regions; ours
0.006 ms), finds 81% at its default leniency (ours 97%) and also accepts
ZIP+4 codes and "1234567890"; at leniency 0 it finds all, but accepts dates,
IP addresses and 5-digit numbers as well.

Recognizers run directly (`recognizer.analyze(text, entities, None)`): they
need no spaCy tokens, so no NLP engine is loaded for them, and presidio's
context enhancer (which needs one) is not applied; column names are our
context (`hints`). A cheap necessary condition per entity (`_PREFILTERS`)
skips values the recognizer's regex cannot match: the recognizers use the
`regex` module with timeouts, about 0.1–0.25 ms per call.

presidio logs a value when IBAN validation raises (`Failed to validate text
%s`); `quiet_presidio` keeps every presidio record below CRITICAL out of our
logs, so no value reaches a pod log through it.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from safesynth.spec.models import PiiEntity

if TYPE_CHECKING:
    from presidio_analyzer import EntityRecognizer

LANGUAGE = "en"
PRESIDIO_LOGGER = "presidio-analyzer"
CACHE_SIZE = 8192  # distinct (text, entity) pairs remembered: a sampled column repeats many values

# presidio entity names → ours, for the recognizers this module loads.
TO_ENTITY: dict[str, PiiEntity] = {
    "CREDIT_CARD": PiiEntity.CREDIT_CARD,
    "IBAN_CODE": PiiEntity.IBAN_CODE,
    "US_SSN": PiiEntity.US_SSN,
    "EMAIL_ADDRESS": PiiEntity.EMAIL_ADDRESS,
}
FROM_ENTITY: dict[PiiEntity, str] = {v: k for k, v in TO_ENTITY.items()}
ENTITIES: frozenset[PiiEntity] = frozenset(TO_ENTITY.values())

# Issuer digit 2–6 (Mastercard 2-series, Amex/Diners/JCB 3, Visa 4, Mastercard 5, Discover 6), 13–19 digits,
# optional space or dash separators. presidio's Luhn check then validates.
CARD_PATTERN = r"(?<![\w-])[2-6]\d{3}(?:[ -]?\d){9,15}(?![\w-])"
CARD_PATTERN_NAME = "card (issuer 2-6, Luhn)"
# presidio's UsSsnRecognizer patterns we keep: the separated 3-2-4 form and bare 9 digits.
SSN_PATTERNS = ("SSN5 (medium)", "SSN4 (very weak)")


@dataclass(frozen=True)
class Hit:
    """One presidio result: where, which entity, which of the recognizer's patterns (positions only, no text)."""

    entity: PiiEntity
    start: int
    end: int
    pattern: str


def quiet_presidio() -> None:
    """Keep presidio's log records out of ours: some repeat the text they were given."""
    logging.getLogger(PRESIDIO_LOGGER).setLevel(logging.CRITICAL)


def _digit_count(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


def _iban_shaped(text: str) -> bool:
    """Two capitals then two digits somewhere, and at least 15 characters (the shortest IBAN, Norway's)."""
    return len(text) >= 15 and any(text[i:i + 2].isupper() and text[i:i + 2].isalpha() and text[i + 2:i + 4].isdigit()
                                   for i in range(len(text) - 3))


# Necessary conditions for each recognizer's regex to match somewhere in a text (they only save time).
_PREFILTERS: dict[PiiEntity, Callable[[str], bool]] = {
    PiiEntity.CREDIT_CARD: lambda t: _digit_count(t) >= 13,
    PiiEntity.IBAN_CODE: _iban_shaped,
    PiiEntity.US_SSN: lambda t: _digit_count(t) >= 9,
    PiiEntity.EMAIL_ADDRESS: lambda t: "@" in t,
}


# The same, for a whole value (`whole_value`): a phone column's 10-digit values never reach the SSN recognizer.
_WHOLE_PREFILTERS: dict[PiiEntity, Callable[[str], bool]] = {
    PiiEntity.CREDIT_CARD: lambda t: 13 <= len(t) <= 23 and t[:1] in "23456" and _digit_count(t) >= 13,
    PiiEntity.IBAN_CODE: lambda t: len(t) >= 15 and t[:2].isalpha() and t[2:4].isdigit(),
    PiiEntity.US_SSN: lambda t: 9 <= len(t) <= 11 and _digit_count(t) == 9,
    PiiEntity.EMAIL_ADDRESS: lambda t: "@" in t,
}


@functools.lru_cache(maxsize=1)
def _tld_extractor():  # type: ignore[no-untyped-def]
    """tldextract on its bundled public-suffix snapshot: no download (suffix_list_urls=()), no disk cache."""
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


def domain_valid(host: str) -> bool:
    """A registrable domain under a known public suffix (presidio's email check, on the offline snapshot)."""
    host = host.strip().rstrip(".").lower()
    if not host or len(host) > 253:
        return False
    result = _tld_extractor()(host)
    return bool(result.domain and result.suffix)


def _build() -> dict[PiiEntity, "EntityRecognizer"]:
    """The recognizers, registered in a presidio `RecognizerRegistry` and selected from it by entity."""
    from presidio_analyzer import Pattern, RecognizerRegistry
    from presidio_analyzer.predefined_recognizers import (CreditCardRecognizer, EmailRecognizer, IbanRecognizer,
                                                          UsSsnRecognizer)

    quiet_presidio()

    class OfflineEmailRecognizer(EmailRecognizer):
        """presidio's email regex; the domain checked on tldextract's snapshot (its default one downloads)."""

        def validate_result(self, pattern_text: str) -> bool:
            return domain_valid(pattern_text.rpartition("@")[2])

    class IssuedSsnRecognizer(UsSsnRecognizer):
        """presidio's SSN rules plus SSA's never-issued area 900–999 (ITINs), which presidio accepts."""

        def invalidate_result(self, pattern_text: str) -> bool:
            digits = "".join(ch for ch in pattern_text if ch.isdigit())
            return bool(super().invalidate_result(pattern_text)) or digits[:1] == "9"

    recognizers = [
        CreditCardRecognizer(patterns=[Pattern(CARD_PATTERN_NAME, CARD_PATTERN, 0.3)], supported_language=LANGUAGE),
        IbanRecognizer(supported_language=LANGUAGE),
        IssuedSsnRecognizer(patterns=[p for p in UsSsnRecognizer.PATTERNS if p.name in SSN_PATTERNS],
                            supported_language=LANGUAGE),
        OfflineEmailRecognizer(supported_language=LANGUAGE),
    ]
    registry = RecognizerRegistry(recognizers=recognizers, supported_languages=[LANGUAGE])
    out: dict[PiiEntity, EntityRecognizer] = {}
    for name, entity in TO_ENTITY.items():
        (chosen,) = registry.get_recognizers(language=LANGUAGE, entities=[name])
        out[entity] = chosen
    return out


_lock = threading.Lock()
_recognizers: dict[PiiEntity, "EntityRecognizer"] = {}


def _get(entity: PiiEntity) -> "EntityRecognizer":
    with _lock:
        if not _recognizers:
            _recognizers.update(_build())
        return _recognizers[entity]


@functools.lru_cache(maxsize=CACHE_SIZE)
def find(text: str, entity: PiiEntity) -> tuple[Hit, ...]:
    """presidio's validated hits of `entity` in `text` (only entities in `ENTITIES`)."""
    if not _PREFILTERS[entity](text):
        return ()
    no_nlp: Any = None  # pattern recognizers never read the NLP artifacts: no spaCy pass for them
    results = _get(entity).analyze(text, [FROM_ENTITY[entity]], no_nlp)
    return tuple(Hit(entity, r.start, r.end, _pattern_name(r)) for r in results)


def _pattern_name(result: object) -> str:
    explanation = getattr(result, "analysis_explanation", None)
    return str(getattr(explanation, "pattern_name", None) or "")


def whole_value(text: str, entity: PiiEntity, pattern: Optional[str] = None) -> bool:
    """Whether a presidio hit of `entity` (from `pattern`, when given) spans all of `text`."""
    if not _WHOLE_PREFILTERS[entity](text):
        return False
    return any(h.start == 0 and h.end == len(text) and (pattern is None or h.pattern == pattern)
               for h in find(text, entity))
