"""Format-preserving generators: a replacement that looks like the value it replaces.

Every function takes the original text and a seeded `random.Random` (derived
from the job key and the value, see `keys.KeyRing.rng`), so the same value
always gets the same replacement. Separators, lengths, character classes and
case are kept; check digits are recomputed where the format has one (Luhn for
cards, ISO 13616 for IBANs), so a replaced value still passes presidio's
validators (`recognizers`) and downstream parsers keep working.
"""

from __future__ import annotations

import random
import re
import string
import unicodedata

from safesynth.pii.patterns import digits_of

_EXT = re.compile(r"(?i)(\s*(?:x|ext\.?|extension|#)\s*)(\d+)$")


def token_like(original: str, rng: random.Random, *, first_nonzero: bool = False) -> str:
    """Same length and character classes: digit→digit, lower→lower, upper→upper, anything else kept."""
    out = []
    for i, ch in enumerate(original):
        if ch.isdigit():
            pool = "123456789" if first_nonzero and not any(c.isdigit() for c in original[:i]) else string.digits
            out.append(rng.choice(pool))
        elif ch.isalpha() and ch.isascii():
            out.append(rng.choice(string.ascii_uppercase if ch.isupper() else string.ascii_lowercase))
        elif ch.isalpha():
            out.append(rng.choice(string.ascii_uppercase if ch.isupper() else string.ascii_lowercase))
        else:
            out.append(ch)
    return "".join(out)


def fill_digits(template: str, digits: str) -> str:
    """`template` with its digits replaced, in order, by `digits` (extra digits are ignored)."""
    it = iter(digits)
    return "".join(next(it, ch) if ch.isdigit() else ch for ch in template)


def _random_digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def fake_phone(original: str, rng: random.Random) -> str:
    """New digits in the same layout. A leading "+cc", "00cc"/"001" or NANP "1" prefix is kept; in a
    10-digit NANP number the area code and exchange start with 2–9 (NANP rules); an extension keeps
    its length."""
    ext = _EXT.search(original)
    main, tail = (original[: ext.start()], ext.group(1) + _random_digits(rng, len(ext.group(2)))) if ext else (original, "")
    m = re.match(r"^\s*(\+\d{1,3}|00\d{1,3}|1(?=[\s.-]))", main)
    prefix, rest = (main[: m.end()], main[m.end():]) if m else ("", main)
    n = len(digits_of(rest))
    new = [rng.choice(string.digits) for _ in range(n)]
    if n == 10 and (not prefix or prefix.lstrip("+0") in ("1", "")):
        new[0] = rng.choice("23456789")
        new[3] = rng.choice("23456789")
    elif n:
        new[0] = rng.choice("123456789") if not rest.lstrip().startswith("0") else "0"
    return prefix + fill_digits(rest, "".join(new)) + tail


def luhn_check_digit(payload: str) -> str:
    """The digit that makes `payload + digit` pass ISO/IEC 7812-1 (Luhn).

    Ours: presidio only validates (its check is private to CreditCardRecognizer); a replacement needs the digit.
    Doubling runs over every second digit from the right of the completed number, i.e. from the payload's last."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str(-total % 10)


def iban_check_digits(country: str, bban: str) -> str:
    """The two ISO 13616 check digits for `country` + `bban`: 98 minus ISO 7064 MOD 97-10 of BBAN + country + '00'.

    Ours: presidio only validates IBANs (its check-digit computation is private to IbanRecognizer)."""
    rearranged = bban + country + "00"
    return f"{98 - int(''.join(str(int(ch, 36)) for ch in rearranged)) % 97:02d}"


def fake_ssn(original: str, rng: random.Random) -> str:
    """A valid-format SSN (area 001–899 except 666, group 01–99, serial 0001–9999) in the original layout."""
    area = rng.randrange(1, 900)
    while area == 666:
        area = rng.randrange(1, 900)
    digits = f"{area:03d}{rng.randrange(1, 100):02d}{rng.randrange(1, 10000):04d}"
    return fill_digits(original, digits) if len(digits_of(original)) == 9 else digits


def fake_card(original: str, rng: random.Random) -> str:
    """Same length, same issuer digit, random body, a correct Luhn check digit, same grouping."""
    digits = digits_of(original)
    n = max(len(digits), 13)
    first = digits[0] if digits else "4"
    body = first + _random_digits(rng, n - 2)
    return fill_digits(original, body + luhn_check_digit(body)) if digits else body + luhn_check_digit(body)


def fake_iban(original: str, rng: random.Random) -> str:
    """Same country and length, BBAN characters of the same classes, valid check digits, same spacing."""
    compact = original.replace(" ", "").upper()
    country, bban = compact[:2], token_like(compact[4:], rng)
    new = country + iban_check_digits(country, bban) + bban
    it = iter(new)
    return "".join(ch if ch == " " else next(it) for ch in original)


def fake_ipv4(rng: random.Random) -> str:
    """A public-looking IPv4 address (first octet 1–223, not 10/127, so not private or loopback)."""
    first = rng.choice([o for o in range(1, 224) if o not in (10, 127)])
    return ".".join(str(o) for o in (first, rng.randrange(256), rng.randrange(256), rng.randrange(1, 255)))


def fake_ipv6(original: str, rng: random.Random) -> str:
    """Hex digits replaced in place (same groups, same compression), letter case kept."""
    return "".join(
        (rng.choice("0123456789abcdef").upper() if ch.isupper() else rng.choice("0123456789abcdef"))
        if ch in string.hexdigits else ch
        for ch in original
    )


def style_like(original: str, new: str) -> str:
    """`new` in the case style of `original`: all lower, all upper, or as generated (title case)."""
    letters = [c for c in original if c.isalpha()]
    if letters and all(c.islower() for c in letters):
        return new.lower()
    if len(letters) > 1 and all(c.isupper() for c in letters):
        return new.upper()
    return new


def ascii_slug(text: str) -> str:
    """Lower-case ASCII letters and digits only (for email local parts made from names)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", folded.lower())
