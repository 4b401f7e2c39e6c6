"""Given-name and family-name lists, taken from the Faker package already installed.

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


def looks_like_full_name(value: str, toks: Sequence[str] | None = None) -> bool:
    """"Given … Family" with a known given *and* family name; or, when the layout itself says "name"
    ("Family, Given …" or an honorific such as "Mrs."), a known given *or* family name."""
    firsts, lasts = first_names(), last_names()
    all_toks = list(toks) if toks is not None else tokens(value)
    titled = any(t in TITLES for t in all_toks)
    if "," in value:
        family_part, _, given_part = value.partition(",")
        family = [t for t in tokens(family_part) if t not in TITLES]
        given = [t for t in tokens(given_part) if t not in TITLES]
        return bool(family and given and (family[-1] in lasts or given[0] in firsts))
    words = [t for t in all_toks if t not in TITLES]
    if len(words) < 2:
        return False
    if titled:
        return words[0] in firsts or words[-1] in lasts
    return words[0] in firsts and words[-1] in lasts


@dataclass(frozen=True)
class NameRates:
    """Shares of sampled values that look like a given name, a family name or a full name."""

    first: float
    last: float
    full: float
    mean_tokens: float


def name_rates(values: Sequence[str] | Iterable[str]) -> NameRates:
    """A single-token value counts as first/last when it is in that list; a multi-token value counts
    as a full name when its first token is a known given name and its last a known family name."""
    firsts, lasts = first_names(), last_names()
    n = first = last = full = 0
    token_total = 0
    for value in values:
        toks = tokens(value)
        n += 1
        token_total += len(toks)
        if len(toks) == 1:
            first += toks[0] in firsts
            last += toks[0] in lasts
        elif len(toks) >= 2:
            full += looks_like_full_name(value, toks)
    if n == 0:
        return NameRates(0.0, 0.0, 0.0, 0.0)
    return NameRates(first / n, last / n, full / n, token_total / n)
