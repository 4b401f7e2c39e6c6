"""Given-name and family-name evidence: Faker's locale lists plus US Census frequencies (`census`).

Faker ships census-derived name lists for many locales (e.g. en_US from the
US Census Bureau's frequently occurring names). A column whose values are
mostly known first names is likely a first-name column even when its header
says nothing; a phrase like "Maria Garcia" whose first word is a known given
name and last word a known family name is likely a person. These rates are
evidence, never proof: family names such as "Brown" or "King" are also
ordinary words, which is why `classify` weighs them below the threshold on
their own and discounts columns with few distinct values.

Lists load once per process, lazily (about 0.2 s), casefolded.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from safesynth.pii import census

# Latin-script locales plus the largest others; names in another script only match values in that script.
LOCALES: tuple[str, ...] = (
    "en_US", "en_GB", "en_IE", "en_IN", "en_NG", "en_PK", "es_ES", "es_MX", "es_AR", "fr_FR", "de_DE",
    "it_IT", "pt_BR", "pt_PT", "nl_NL", "pl_PL", "sv_SE", "da_DK", "no_NO", "fi_FI", "cs_CZ", "hu_HU",
    "ro_RO", "tr_TR", "id_ID", "vi_VN", "yo_NG", "zu_ZA", "ru_RU", "uk_UA", "el_GR", "ar_AA", "he_IL",
    "hi_IN", "zh_CN", "ja_JP", "ko_KR",
)
_TOKEN = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", re.UNICODE)


def _names(attr_prefix: str) -> frozenset[str]:
    found: set[str] = set()
    for loc in LOCALES:
        try:
            provider = importlib.import_module(f"faker.providers.person.{loc}").Provider
        except (ImportError, AttributeError):
            continue
        for attr in dir(provider):
            if not attr.startswith(attr_prefix):
                continue
            values = getattr(provider, attr)
            if isinstance(values, Mapping):
                values = list(values.keys())
            if isinstance(values, (list, tuple, set, frozenset)):
                found |= {str(v).casefold() for v in values if isinstance(v, str) and len(v) > 1}
    return frozenset(found)


@functools.lru_cache(maxsize=1)
def first_names() -> frozenset[str]:
    return _names("first_names")


@functools.lru_cache(maxsize=1)
def last_names() -> frozenset[str]:
    return _names("last_names")


def tokens(value: str) -> list[str]:
    """Word tokens of a name-like value (letters, inner apostrophes and hyphens), casefolded."""
    return [t.casefold() for t in _TOKEN.findall(value)]


# Honorifics and suffixes, casefolded without dots: not names, skipped when reading a full name.
TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "master", "dr", "prof", "sir", "dame", "lady", "lord", "rev",
                    "fr", "jr", "sr", "ii", "iii", "iv", "md", "phd", "esq", "dds", "rn", "np", "pa", "col", "capt",
                    "major", "mme", "mlle", "don", "dona", "herr", "frau"})


# Evidence a Faker-listed name gives: curated name lists, so a listed word is a name, but not a certain one.
FAKER_WEIGHT = 0.8
# A family-first full name ("Wang Wei", "Nagy Péter") counts this much of a given-first one.
FAMILY_FIRST = 0.9


def _parts_weight(token: str, faker: frozenset[str], census_weights: Mapping[str, float]) -> float:
    """max(Faker membership, Census frequency weight); a hyphenated token ("garcia-lopez") by its weakest part."""
    def one(t: str) -> float:
        return max(FAKER_WEIGHT if t in faker else 0.0, census_weights.get(t, 0.0))

    whole = one(token)
    if whole or "-" not in token:
        return whole
    return min(one(p) for p in token.split("-") if p) if token.strip("-") else 0.0


def first_weight(token: str) -> float:
    """How much a casefolded word looks like a given name, in [0, 1] (see `census` for the weights)."""
    return _parts_weight(token, first_names(), census.given_names())


def last_weight(token: str) -> float:
    """How much a casefolded word looks like a family name, in [0, 1]."""
    return _parts_weight(token, last_names(), census.surnames())


def full_name_score(value: str, toks: Sequence[str] | None = None) -> float:
    """How much a multi-word value looks like a person's full name, in [0, 1].

    "Given … Family": the weaker of the two words' weights (both must be names); "Family Given" (East Asian
    and Hungarian order) the same, times FAMILY_FIRST. When the layout itself says "name" ("Family, Given …",
    or an honorific such as "Mrs."), the stronger word's weight is enough.
    """
    all_toks = list(toks) if toks is not None else tokens(value)
    titled = any(t in TITLES for t in all_toks)
    if "," in value:
        family_part, _, given_part = value.partition(",")
        family = [t for t in tokens(family_part) if t not in TITLES]
        given = [t for t in tokens(given_part) if t not in TITLES]
        if not (family and given):
            return 0.0
        return max(last_weight(family[-1]), first_weight(given[0]))
    words = [t for t in all_toks if t not in TITLES]
    if len(words) < 2:
        return 0.0
    if titled:
        return max(first_weight(words[0]), last_weight(words[-1]))
    given_first = min(first_weight(words[0]), last_weight(words[-1]))
    family_first = FAMILY_FIRST * min(last_weight(words[0]), first_weight(words[-1]))
    return max(given_first, family_first)


def looks_like_full_name(value: str, toks: Sequence[str] | None = None) -> bool:
    """A full name by `full_name_score` ≥ 0.5 (both words listed, or a name layout and one listed word)."""
    return full_name_score(value, toks) >= 0.5


@dataclass(frozen=True)
class NameRates:
    """Frequency-weighted shares of sampled values that look like a given name, a family name or a full name."""

    first: float
    last: float
    full: float
    mean_tokens: float


def name_rates(values: Sequence[str] | Iterable[str]) -> NameRates:
    """Single-token values add their given-name and family-name weights; multi-token values their
    `full_name_score`; each rate is the mean over values (so 1.0 means every value is a common name)."""
    n = 0
    first = last = full = 0.0
    token_total = 0
    for value in values:
        toks = tokens(value)
        n += 1
        token_total += len(toks)
        if any(ch.isdigit() for ch in value):
            continue  # "ORD-00017" holds the word "ord", but a value with digits is a code, not a name
        if len(toks) == 1:
            first += first_weight(toks[0])
            last += last_weight(toks[0])
        elif len(toks) >= 2:
            full += full_name_score(value, toks)
    if n == 0:
        return NameRates(0.0, 0.0, 0.0, 0.0)
    return NameRates(first / n, last / n, full / n, token_total / n)
