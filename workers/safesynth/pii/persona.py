"""Synthetic people: consistent fake names and emails that agree with each other in a row.

Consistency and coherence pull in different directions: "the same original
value maps to the same replacement everywhere" is per value, "first + last +
email of one synthetic person" is per row. Both hold by mapping name *tokens*:

* every original given name maps to one fake given name, every family name
  to one fake family name (keyed by the casefolded token, drawn from Faker's
  lists for the job's locale, never equal to any original name token);
* a full name maps token by token ("Mary J. Smith" → fake(Mary) + a keyed
  initial + fake(Smith)), so a row's `full_name`, `first_name` and
  `last_name` columns and the names in its notes name the same fake person;
* an email is rebuilt from the fake first and last name of the first row in
  which it appears (separator style, trailing-digit count and case kept, a
  free-mail domain kept, any other domain mapped to one fake domain), so the
  same email always gets the same replacement and usually matches its row.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Iterable
from typing import Optional

from safesynth.errors import BadInputError
from safesynth.pii import gazetteer
from safesynth.pii.gazetteer import TITLES
from safesynth.pii.formats import ascii_slug, style_like
from safesynth.pii.keys import KeyRing

# Draws from Faker before giving up on avoiding the original tokens (then a keyed suffix is added).
MAX_DRAWS = 50
_PIECES = re.compile(r"([^\W\d_]+(?:['’-][^\W\d_]+)*\.?)|([^\w]+|\d+|_)", re.UNICODE)


class Fakes:
    """One Faker for the job's locale, reseeded per value from the job key before every draw."""

    def __init__(self, locale: str, keys: KeyRing) -> None:
        from faker import Faker

        try:
            self.faker = Faker(locale)
        except AttributeError:
            raise BadInputError(
                f"spec.pii.locale: Faker has no locale {locale!r}; use one such as en_US, en_GB, de_DE, fr_FR"
            ) from None
        self.keys = keys
        self.locale = locale

    def seeded(self, purpose: str, value: str):  # type: ignore[no-untyped-def]
        """The Faker, seeded from HMAC(key, purpose, value): the next draws are a function of the value."""
        self.faker.seed_instance(self.keys.integer(purpose, value))
        return self.faker

    def rng(self, purpose: str, value: str) -> random.Random:
        return self.keys.rng(purpose, value)

    @functools.cached_property
    def free_email_domains(self) -> frozenset[str]:
        domains = getattr(self.faker, "free_email_domains", None) or ("gmail.com", "yahoo.com", "hotmail.com")
        if callable(domains):
            domains = ("gmail.com", "yahoo.com", "hotmail.com")
        return frozenset(d.casefold() for d in domains) | {"outlook.com", "icloud.com", "aol.com", "protonmail.com"}


class NameBook:
    """Consistent fake names for one job; never returns a token in `forbidden` (casefolded)."""

    def __init__(self, fakes: Fakes, forbidden: Iterable[str] = ()) -> None:
        self.fakes = fakes
        self.forbidden = {t.casefold() for t in forbidden}
        self.known_first: set[str] = set()
        self.known_last: set[str] = set()
        self._cache: dict[tuple[str, str, int], str] = {}

    def learn(self, first: Iterable[str] = (), last: Iterable[str] = ()) -> None:
        """Original given/family names of the job, so lone tokens in text map the same way (and are avoided)."""
        for name in first:
            toks = gazetteer.tokens(name)
            self.known_first.update(toks)
            self.forbidden.update(toks)
        for name in last:
            toks = gazetteer.tokens(name)
            self.known_last.update(toks)
            self.forbidden.update(toks)

    def _draw(self, kind: str, token: str, attempt: int) -> str:
        key = (kind, token.casefold(), attempt)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        method = "first_name" if kind == "first" else "last_name"
        name = ""
        for draw in range(MAX_DRAWS):
            name = getattr(self.fakes.seeded(f"{kind}-name", f"{token.casefold()}\x1f{attempt}\x1f{draw}"), method)()
            if not any(t in self.forbidden for t in gazetteer.tokens(name)):
                break
        else:  # every draw was an original name (tiny locale lists): make it unique with a keyed suffix
            name = name + self.fakes.rng(f"{kind}-suffix", token.casefold()).choice("bcdfghklmnprstvz") + "a"
        self._cache[key] = name
        return name

    def first(self, original: str, attempt: int = 0) -> str:
        return style_like(original, self._draw("first", original.strip(), attempt))

    def last(self, original: str, attempt: int = 0) -> str:
        return style_like(original, self._draw("last", original.strip(), attempt))

    def lone(self, token: str, attempt: int = 0) -> str:
        """A single name token whose role is unknown (text: "Dr. Smith"): given name if it is one."""
        t = token.casefold()
        is_first = t in self.known_first or (t not in self.known_last and t in gazetteer.first_names()
                                             and t not in gazetteer.last_names())
        return self.first(token, attempt) if is_first else self.last(token, attempt)

    def full(self, original: str, attempt: int = 0) -> str:
        """Token-wise: first word a given name, last word a family name ("Smith, John": the reverse),
        middle words given names, initials keyed letters, titles and punctuation kept."""
        pieces = [(m.group(1), m.group(0)) for m in _PIECES.finditer(original)]
        words = [i for i, (w, _) in enumerate(pieces) if w and w.rstrip(".").casefold() not in TITLES]
        if not words:
            return original
        if len(words) == 1:
            i = words[0]
            return "".join(self.lone(p, attempt) if j == i else p for j, (_, p) in enumerate(pieces))
        family_first = "," in original.split()[0] if original.split() else False
        last_i = words[0] if family_first else words[-1]
        out = []
        for j, (word, piece) in enumerate(pieces):
            if j not in words:
                out.append(piece)
            elif len(word.rstrip(".")) == 1:  # an initial
                letter = self.fakes.rng("initial", word.casefold()).choice("ABCDEFGHJKLMNPRSTW")
                out.append(letter + ("." if word.endswith(".") else ""))
            elif j == last_i:
                out.append(self.last(word, attempt))
            else:
                out.append(self.first(word, attempt))
        return "".join(out)

    def person(self, first: Optional[str], last: Optional[str], full: Optional[str]) -> tuple[str, str]:
        """The fake (first, last) of a row, from whichever name columns it has."""
        if full:
            toks = [t for t in gazetteer.tokens(full) if t not in TITLES and len(t) > 1]
            if toks and not first:
                first = toks[0]
            if len(toks) > 1 and not last:
                last = toks[-1]
        f = self.first(first) if first else None
        surname = self.last(last) if last else None
        return (f or "", surname or "")

    def email(self, original: str, person: Optional[tuple[str, str]], attempt: int = 0) -> str:
        """A new address for the person: local part in the original's style, a fake domain for a private one."""
        local, _, domain = original.strip().rpartition("@")
        key = original.strip().casefold()
        rng = self.fakes.rng("email", f"{key}\x1f{attempt}")
        first, last = person if person and person[0] and person[1] else ("", "")
        if not first:
            first = self.fakes.seeded("email-first", key).first_name()
        if not last:
            last = self.fakes.seeded("email-last", key).last_name()
        f, sur = ascii_slug(first) or "user", ascii_slug(last) or "mail"
        sep = next((c for c in local if c in "._-"), "")
        trailing = len(local) - len(local.rstrip("0123456789"))
        if sep:
            new_local = f"{f}{sep}{sur}"
        else:
            new_local = rng.choice([f"{f}{sur}", f"{f[0]}{sur}", f"{f}{sur[0]}"])
        new_local += "".join(rng.choice("0123456789") for _ in range(trailing))
        if attempt:
            new_local += str(attempt)
        if domain.casefold() in self.fakes.free_email_domains:
            new_domain = domain
        else:
            new_domain = self.fakes.seeded("email-domain", domain.casefold()).domain_name()
        return style_like(local, new_local) + "@" + new_domain
