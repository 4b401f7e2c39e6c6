"""Value patterns with validation: what a column's values look like, and PII spans in text.

Each `ValuePattern` names its entity, a regular expression that must match the
whole (stripped) value, an optional validator that a regex cannot express
(Luhn, the IBAN mod-97 checksum, a public suffix, a real IP address) and its
*reliability*: the evidence it gives when every sampled value matches. A
format that many non-PII values share (a bare 5-digit number is also a price
or a count) has a low reliability, so it needs a column-name hint to pass the
threshold; a checksum-validated format is nearly conclusive on its own.

The same validators check spans found in free text (`find_spans`), so a column
and a sentence are judged by one set of rules.

Sources for the rules: US SSN area/group/serial rules (SSA, "never issued":
area 000, 666, 900–999; group 00; serial 0000); Luhn (ISO/IEC 7812-1); IBAN
check digits and lengths (ISO 13616, SWIFT IBAN registry); NANP numbers
(3-3-4 digits, optional +1/001 prefix); US ZIP / ZIP+4, UK and Canadian
postcodes (Royal Mail, Canada Post formats); USPS street suffixes
(Publication 28, Appendix C1, as shipped in Faker's en_US address provider).

Domains are validated against the public suffix list bundled with
`tldextract` (its snapshot: `suffix_list_urls=()`, no download, no cache).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass
from typing import Callable, Iterable, Optional, Sequence

from safesynth.pii.spans import Span
from safesynth.spec.models import PiiEntity

# A pattern "fires" for a column when at least this share of sampled values match it.
MIN_MATCH_RATE = 0.5


# ------------------------------------------------------------------ validators


def digits_of(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def luhn_valid(number: str) -> bool:
    """ISO/IEC 7812-1 check: double every second digit from the right, sum digits, total % 10 == 0.

    Ours: presidio's check is a private method of its recognizer and python-stdnum is not a dependency.
    """
    digits = digits_of(number)
    if len(digits) < 2:
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def luhn_check_digit(payload: str) -> str:
    """The digit that makes `payload + digit` Luhn-valid."""
    for d in "0123456789":
        if luhn_valid(payload + d):
            return d
    raise AssertionError("unreachable: one of ten digits always completes a Luhn number")


# ISO 13616 lengths by country (SWIFT IBAN registry).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29,
    "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}


def iban_mod97(iban: str) -> int:
    """ISO 7064 MOD 97-10 of an IBAN: move the first four characters to the end, letters to 10..35.

    Ours: presidio keeps its IBAN check inside its recognizer, and schwifty / python-stdnum are not dependencies.
    """
    s = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in s)) % 97


def iban_valid(value: str) -> bool:
    compact = value.replace(" ", "").upper()
    country = compact[:2]
    return IBAN_LENGTHS.get(country) == len(compact) and compact[2:4].isdigit() and iban_mod97(compact) == 1


def iban_check_digits(country: str, bban: str) -> str:
    """The two check digits for `country` + `bban` (ISO 13616: 98 - mod97 with '00')."""
    return f"{98 - iban_mod97(country + '00' + bban):02d}"


@functools.lru_cache(maxsize=1)
def _tld_extractor():  # type: ignore[no-untyped-def]
    """tldextract on its bundled public-suffix snapshot: no download (suffix_list_urls=()), no disk cache."""
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


def domain_valid(host: str) -> bool:
    """A registrable domain under a known public suffix (as presidio's email recognizer checks, offline)."""
    host = host.strip().rstrip(".").lower()
    if not host or len(host) > 253:
        return False
    result = _tld_extractor()(host)
    return bool(result.domain and result.suffix)


def email_valid(value: str) -> bool:
    return domain_valid(value.rpartition("@")[2])


def url_valid(value: str) -> bool:
    rest = re.sub(r"(?i)^(https?://)?", "", value)
    host = re.split(r"[/:?#]", rest, maxsplit=1)[0]
    return domain_valid(host.rpartition("@")[2])


def ipv4_valid(value: str) -> bool:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return True


def ipv6_valid(value: str) -> bool:
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return value.count(":") >= 2 and sum(ch.isalnum() for ch in value) >= 4


def card_valid(value: str) -> bool:
    """13–19 digits, an issuer digit 2–6 (Mastercard 2-series, Amex/Diners/JCB 3, Visa 4, MC 5, Discover 6), Luhn."""
    digits = digits_of(value)
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_valid(digits)


def phone_digit_count_valid(value: str) -> bool:
    """7–15 digits before any extension (E.164 allows at most 15)."""
    main = re.split(r"(?i)\s*(?:x|ext\.?|extension|#)\s*\d", value, maxsplit=1)[0]
    return 7 <= len(digits_of(main)) <= 15


def nanp_valid(value: str) -> bool:
    """A number phonenumbers' metadata accepts as a valid US/NANP number (an assigned area code and exchange):
    bare 10-digit codes (accounts, orders) mostly are not."""
    import phonenumbers

    try:
        return bool(phonenumbers.is_valid_number(phonenumbers.parse(value, "US")))
    except phonenumbers.NumberParseException:
        return False


# Regions whose national numbers start with a trunk 0 (phonenumbers' metadata decides what is possible there).
TRUNK_ZERO_REGIONS = ("GB", "DE", "AT", "CH", "FR", "IT", "NL", "BE", "ES", "PT", "PL", "SE", "IE", "AU", "NZ",
                      "IN", "TR", "BR", "AR", "ZA", "NG", "JP", "KR", "CN", "RU", "UA", "VN", "ID", "PH", "IL")


def national_phone_valid(value: str) -> bool:
    """9–13 digits that phonenumbers accepts as a possible national number of some trunk-0 region."""
    import phonenumbers

    if not 9 <= len(digits_of(value)) <= 13:
        return False
    for region in TRUNK_ZERO_REGIONS:
        try:
            if phonenumbers.is_possible_number(phonenumbers.parse(value, region)):
                return True
        except phonenumbers.NumberParseException:
            continue
    return False


@functools.lru_cache(maxsize=1)
def street_suffixes() -> tuple[str, ...]:
    """USPS street suffixes (Publication 28, C1) as Faker's en_US provider ships them, plus abbreviations."""
    from faker.providers.address.en_US import Provider

    names = set(getattr(Provider, "street_suffixes", ()))
    names |= {"St", "Ave", "Rd", "Blvd", "Ln", "Dr", "Ct", "Pl", "Sq", "Ter", "Cir", "Pkwy", "Hwy", "Trl", "Way"}
    return tuple(sorted(names, key=len, reverse=True))


@functools.lru_cache(maxsize=1)
def us_states() -> frozenset[str]:
    """US state and territory names and USPS codes, casefolded (from Faker's en_US provider)."""
    from faker.providers.address.en_US import Provider

    names: set[str] = set()
    for attr in ("states", "states_abbr", "territories_abbr", "military_state_abbr"):
        names |= {str(s).casefold() for s in getattr(Provider, attr, ())}
    for mapping in ("states_postcode",):
        names |= {str(s).casefold() for s in getattr(Provider, mapping, {})}
    return frozenset(names)


def state_valid(value: str) -> bool:
    return value.casefold() in us_states()


@functools.lru_cache(maxsize=1)
def _street_regex() -> re.Pattern[str]:
    suffixes = "|".join(re.escape(s) for s in street_suffixes())
    return re.compile(
        rf"^\d{{1,6}}[A-Za-z]?\s+(?:[\w.'-]+\s+){{0,5}}(?:{suffixes})\.?"
        r"(?:\s+(?:Apt|Apartment|Suite|Ste|Unit|Fl|Floor|#)\.?\s*[\w-]+)?(?:\s*[,\n].*)?$",
        re.IGNORECASE | re.DOTALL,
    )


def street_valid(value: str) -> bool:
    return bool(_street_regex().match(value))


# Street words outside the USPS list, by language (a house number must sit before or after them): German,
# French, Spanish (Spain and Mexico), Portuguese, Italian, Dutch, Polish, Turkish, Vietnamese, Russian, and common English ones.
STREET_WORDS = (
    r"stra(?:ss|ß)e|str\.|weg|gasse|platz|allee|ring|damm|ufer|rue|avenue|av\.|ave\.|boulevard|bd\.|chemin|impasse|"
    r"all[ée]e|place|quai|calle|avenida|avda\.|paseo|camino|carrera|rua|travessa|alameda|estrada|via|viale|piazza|"
    r"callej[oó]n|cuesta|urbanizaci[oó]n|ronda|plaza|pasaje|glorieta|rambla|v[ií]a|carretera|traves[ií]a|"
    r"pol[ií]gono|calzada|prolongaci[oó]n|privada|cerrada|andador|"
    r"corso|vicolo|straat|steeg|laan|plein|gracht|kade|ul\.|ulica|al\.|aleja|os\.|sokak|sok\.|cadde(?:si)?|cad\.|"
    r"mahallesi|đường|phố|ngõ|улица|ул\.|проспект|пр\.|бул\.|пер\.|шоссе|road|street|lane|close|crescent|drive|"
    r"gardens|terrace|mews|row|walk|hill"
)
_INTL_STREET = re.compile(
    rf"(?i)^(?:\d{{1,5}}[a-z]?,?\s+(?:[\w.'-]+\s+){{0,4}}?(?:{STREET_WORDS})(?:\s|$|,)"
    rf"|(?:[\w.'-]+\s+){{0,4}}?[\w'-]*(?:{STREET_WORDS})[,.]?\s+(?:[\w.'-]+\s+){{0,3}}?\d{{1,5}}[a-z]?(?:[/-]\d+)?\b"
    rf"|(?:{STREET_WORDS})\s+.*\d)",
)


def intl_street_valid(value: str) -> bool:
    """A house number with a street word of some language ("Andrej-Seip-Weg 6", "69 avenue de Da Costa")."""
    return bool(_INTL_STREET.search(value)) and any(ch.isdigit() for ch in value)


# Place-name shapes: suffixes and prefixes that English, German, Dutch and Scandinavian town names share
# ("-ton", "-ville", "-burg", "Port ...", "Lake ..."). Evidence, not proof: weighed low (see `classify`).
_PLACE = re.compile(
    r"(?i)^(?:(?:north|south|east|west|new|lake|port|fort|mount|mt\.?|saint|st\.?|san|santa|los|las|la|el|le|"
    r"bad|sankt|villa|vila|ciudad|puerto)\s+\S.*"
    r"|.*(?:ton|town|ville|burg|burgh|borough|boro|bury|berg|chester|caster|ford|field|furt|haven|land|mouth|"
    r"port|shire|side|stad|view|ham|wick|worth|dale|wood|mont|polis|heim|hausen|dorf|stadt|grad|abad|pur|"
    r"pura|nagar|ore)"
    r"|.*\s(?:city|springs|beach|heights|falls|valley|park|creek|harbor|island|hills|junction|village))$"
)


def place_shaped(value: str) -> bool:
    return bool(_PLACE.match(value)) and not any(ch.isdigit() for ch in value) and len(value.split()) <= 4


# ------------------------------------------------------------------- patterns


@dataclass(frozen=True)
class ValuePattern:
    """One recognizable format of an entity, for whole values and (optionally) inside text."""

    name: str
    entity: PiiEntity
    regex: Optional[re.Pattern[str]]
    reliability: float
    validate: Optional[Callable[[str], bool]] = None
    # Finds candidates inside free text; each candidate is then checked with `matches`.
    span_regex: Optional[re.Pattern[str]] = None

    def matches(self, value: str) -> bool:
        if self.regex is not None and not self.regex.fullmatch(value):
            return False
        return self.validate is None or self.validate(value)


def _rx(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(pattern, flags)


_EMAIL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]*[A-Za-z0-9]"
_EXT = r"(?:\s*(?:x|ext\.?|extension|#)\s*\d{1,6})?"
_NANP_SEP = r"(?:(?:\+?1|001)[\s.-]?)?(?:\(\d{3}\)\s?\d{3}[\s.-]?|\d{3}[\s.-]\d{3}[\s.-]|\d{3}[.-]?\d{3}[.-])\d{4}"
_INTL = r"(?:\+|00)[1-9]\d{0,2}(?:[\s.-]?\(?\d{1,5}\)?){1,6}"
_SSN_DASHED = r"(?!000|666|9\d\d)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}"
_CARD = r"\d(?:[ -]?\d){12,18}"
_IBAN = r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}"
_IPV4 = r"(?:\d{1,3}\.){3}\d{1,3}"
_IPV6 = r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}"
_URL = r"(?:https?://|www\.)[^\s<>\"']+"

PATTERNS: tuple[ValuePattern, ...] = (
    ValuePattern("email", PiiEntity.EMAIL_ADDRESS, _rx(_EMAIL), 0.95, email_valid,
                 _rx(rf"(?<![\w.+-]){_EMAIL}(?![\w-])")),
    ValuePattern("phone (NANP)", PiiEntity.PHONE_NUMBER, _rx(_NANP_SEP + _EXT, re.I), 0.8, phone_digit_count_valid,
                 _rx(rf"(?<![\w+]){_NANP_SEP}(?:\s?(?:x|ext\.?)\s?\d{{1,6}})?(?!\w)", re.I)),
    ValuePattern("phone (international)", PiiEntity.PHONE_NUMBER, _rx(_INTL + _EXT, re.I), 0.75,
                 phone_digit_count_valid, _rx(rf"(?<![\w+]){_INTL}(?![\w])")),
    ValuePattern("phone (national, leading 0)", PiiEntity.PHONE_NUMBER,
                 _rx(r"\(?0\d{2,5}\)?[\s/-]?\d{2,8}(?:[\s-]?\d{2,4})?"), 0.45, national_phone_valid),
    ValuePattern("phone (digits only)", PiiEntity.PHONE_NUMBER, _rx(r"1?[2-9]\d{9}"), 0.3, nanp_valid),
    ValuePattern("ssn", PiiEntity.US_SSN, _rx(_SSN_DASHED), 0.85, None,
                 _rx(rf"(?<![\w-]){_SSN_DASHED}(?![\w-])")),
    ValuePattern("ssn (digits only)", PiiEntity.US_SSN, _rx(r"(?!000|666|9\d\d)\d{3}(?!00)\d{2}(?!0000)\d{4}"), 0.3),
    ValuePattern("credit card (Luhn)", PiiEntity.CREDIT_CARD, _rx(_CARD), 0.9, card_valid,
                 _rx(rf"(?<![\w-]){_CARD}(?![\w-])")),
    ValuePattern("IBAN (mod 97)", PiiEntity.IBAN_CODE, _rx(_IBAN, re.I), 0.95, iban_valid,
                 _rx(rf"(?<![\w]){_IBAN}(?![\w])")),
    ValuePattern("IPv4", PiiEntity.IP_ADDRESS, _rx(_IPV4), 0.9, ipv4_valid, _rx(rf"(?<![\w.]){_IPV4}(?!\.?\w)")),
    ValuePattern("IPv6", PiiEntity.IP_ADDRESS, _rx(_IPV6), 0.9, ipv6_valid, _rx(rf"(?<![\w:]){_IPV6}(?![\w:])")),
    ValuePattern("URL", PiiEntity.URL, _rx(_URL, re.I), 0.85, url_valid,
                 _rx(rf"(?<![\w@/]){_URL}(?<![.,;:!?)])", re.I)),
    ValuePattern("US ZIP", PiiEntity.ZIP_CODE, _rx(r"\d{5}(?:-\d{4})?"), 0.35),
    ValuePattern("UK postcode", PiiEntity.ZIP_CODE, _rx(r"[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}", re.I), 0.8),
    ValuePattern("Canadian postcode", PiiEntity.ZIP_CODE,
                 _rx(r"[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z] ?\d[ABCEGHJ-NPRSTV-Z]\d", re.I), 0.8),
    # Postcodes of other countries: short codes with a digit. Too loose to count as evidence on its
    # own; it exists so a column named "postcode" holding such codes is not judged contradicted.
    ValuePattern("postcode (loose)", PiiEntity.ZIP_CODE, _rx(r"(?=.*\d)[A-Z0-9][A-Z0-9 -]{2,9}", re.I), 0.1),
    ValuePattern("street address (USPS suffix)", PiiEntity.STREET_ADDRESS, None, 0.7, street_valid),
    ValuePattern("street address (number + street word)", PiiEntity.STREET_ADDRESS, None, 0.6, intl_street_valid),
    ValuePattern("medical record number (MRN prefix)", PiiEntity.MEDICAL_RECORD_NUMBER,
                 _rx(r"(?:MRN|MR|EMR|EHR)[-: #]?\d{4,12}", re.I), 0.8),
    ValuePattern("place-name shape", PiiEntity.CITY, None, 0.35, place_shaped),
    ValuePattern("US state", PiiEntity.STATE, None, 0.3, state_valid),
    ValuePattern("date", PiiEntity.DATE_TIME,
                 _rx(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
                     r"|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}|\d{1,2}[ -][A-Za-z]{3,9}[ -]\d{4}|[A-Za-z]{3,9} \d{1,2}, \d{4}"),
                 0.3),
)

SPAN_PATTERNS: tuple[ValuePattern, ...] = tuple(p for p in PATTERNS if p.span_regex is not None)
BY_NAME: dict[str, ValuePattern] = {p.name: p for p in PATTERNS}


def patterns_for(entity: PiiEntity) -> tuple[ValuePattern, ...]:
    return tuple(p for p in PATTERNS if p.entity == entity)


# Entities whose values a pattern can confirm or contradict (for the classifier's contradiction rule).
CHECKABLE: frozenset[PiiEntity] = frozenset(
    {PiiEntity.EMAIL_ADDRESS, PiiEntity.PHONE_NUMBER, PiiEntity.US_SSN, PiiEntity.CREDIT_CARD,
     PiiEntity.IBAN_CODE, PiiEntity.IP_ADDRESS, PiiEntity.URL, PiiEntity.ZIP_CODE, PiiEntity.STATE}
)


def as_text(value: object) -> str:
    """How a cell is matched: its string form, stripped; integral floats without '.0'."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


# Patterns below this reliability are too loose to count as evidence; they only keep a hint from
# being judged contradicted (see `classify`).
EVIDENCE_MIN_RELIABILITY = 0.15


@dataclass(frozen=True)
class PatternEvidence:
    """How much a sample of values looks like one entity.

    rate: share of values matching at least one evidence pattern of the entity;
    strength: mean over all values of the best reliability among the patterns each matches
        (a column mixing "555-123-4567" and "+44 20 7946 0958" counts both formats);
    loose_rate: share matching any pattern of the entity, loose ones included;
    top: the pattern most values match (for the report).
    """

    entity: PiiEntity
    rate: float
    strength: float
    loose_rate: float
    top: str


def match_rates(values: Sequence[object], patterns: Iterable[ValuePattern] = PATTERNS) -> dict[str, float]:
    """Share of `values` (non-null, as text) that each pattern matches, by pattern name."""
    texts = [as_text(v) for v in values]
    n = len(texts)
    if n == 0:
        return {}
    return {p.name: sum(1 for t in texts if p.matches(t)) / n for p in patterns}


def entity_evidence(values: Sequence[object]) -> dict[PiiEntity, PatternEvidence]:
    """Per entity, how much `values` look like it (entities no value matches are left out)."""
    texts = [as_text(v) for v in values]
    n = len(texts)
    if n == 0:
        return {}
    best: dict[PiiEntity, list[float]] = {}
    loose: dict[PiiEntity, int] = {}
    hits: dict[str, int] = {}
    for t in texts:
        seen: dict[PiiEntity, float] = {}
        for p in PATTERNS:
            if p.matches(t):
                hits[p.name] = hits.get(p.name, 0) + 1
                seen[p.entity] = max(seen.get(p.entity, 0.0), p.reliability)
        for e, r in seen.items():
            best.setdefault(e, []).append(r)
            loose[e] = loose.get(e, 0) + 1
    out = {}
    for e, rels in best.items():
        strong = [r for r in rels if r >= EVIDENCE_MIN_RELIABILITY]
        top = max((p for p in PATTERNS if p.entity == e), key=lambda p: (hits.get(p.name, 0), p.reliability)).name
        out[e] = PatternEvidence(e, len(strong) / n, sum(strong) / n, loose[e] / n, top)
    return out


def find_spans(text: str, entities: Optional[Iterable[PiiEntity]] = None) -> list[Span]:
    """Validated pattern spans inside free text (score = the pattern's reliability)."""
    wanted = None if entities is None else set(entities)
    found: list[Span] = []
    for p in SPAN_PATTERNS:
        if wanted is not None and p.entity not in wanted:
            continue
        assert p.span_regex is not None
        for m in p.span_regex.finditer(text):
            candidate = m.group(0)
            if p.validate is None or p.validate(candidate):
                found.append(Span(p.entity, m.start(), m.end(), p.reliability, "pattern"))
    return found
