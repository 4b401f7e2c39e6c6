"""Fresh fakes for a synthetic table: one new synthetic person per row, drawn without reading any real value.

Under differential privacy the generator does not learn the columns whose
training values are fakes already (the PII stage replaced every value with a
keyed fake: names, emails, phones, SSNs, street addresses, cities...). Those
values carry nothing about a real person worth a share of epsilon, and
learning them under DP-SGD would collapse them to a few frequent strings
(or to nothing, when released categories must pass a noise threshold). The
generate stage fills them after sampling, here, with the PII stage's own
machinery: `persona.NameBook` for names and emails, the registered `fake`
action for everything else.

What is read: the PII report's column list (which column holds fakes of which
entity; the report holds no value) and the job's locale. What is not: any
training value, its format, its null share or its frequencies. So a column
is never null here, and each entity is written in one public layout (the
`TEMPLATES` below, e.g. "(201) 555-0123" for phones); the draw for row i is
keyed by (a fresh 256-bit key, i), passed to the action as its `attempt`, so
rows get independent values and a re-run gets other ones.

Coherent within a row: the first-name, last-name and full-name columns of a
row name one person, and the row's email is built from that person's name
(`NameBook.email`), as the PII stage does for real rows.
"""

from __future__ import annotations

import random
import secrets
import string
from collections.abc import Mapping
from typing import Any, Optional

from safesynth.pii.actions.base import ActionParams, ValueContext, get_action
from safesynth.pii.keys import KeyRing
from safesynth.pii.persona import Fakes, NameBook
from safesynth.spec.models import PiiAction, PiiEntity

E = PiiEntity
# The public layout each entity is written in (its letters and digits are redrawn; only the shape is kept).
TEMPLATES: dict[PiiEntity, str] = {
    E.PHONE_NUMBER: "(201) 555-0123",
    E.US_SSN: "123-45-6789",
    E.CREDIT_CARD: "4111 1111 1111 1111",
    E.IP_ADDRESS: "192.0.2.1",
    E.URL: "https://example.com",
    E.STREET_ADDRESS: "1 Main Street",
    E.CITY: "Springfield",
    E.LOCATION: "Springfield",
    E.STATE: "CA",
    E.ZIP_CODE: "12345",
    E.ORGANIZATION: "Example Inc",
}
NAME_ENTITIES = frozenset({E.FIRST_NAME, E.LAST_NAME, E.PERSON})
REFAKE_ENTITIES = frozenset(TEMPLATES) | NAME_ENTITIES | {E.EMAIL_ADDRESS}
# Base names the persona's draws start from: only their case style matters (NameBook keeps title case).
FIRST_TEMPLATE, LAST_TEMPLATE = "Alex", "Morgan"
EMAIL_SEPARATORS = (".", "_", "")


def refaked_columns(report: Optional[Mapping[str, Any]]) -> dict[str, PiiEntity]:
    """Column -> entity for the columns whose every value the PII stage replaced with a fake of an entity
    drawn here: action fake on the whole cell (not spans in free text), column kept. Empty without a report."""
    out: dict[str, PiiEntity] = {}
    for c in (report or {}).get("columns", []):
        entity = c.get("entity")
        if (c.get("action") == PiiAction.FAKE.value and c.get("mode") == "structured" and not c.get("dropped")
                and c.get("outputKind") is not None and entity in {e.value for e in REFAKE_ENTITIES}):
            out[str(c["column"])] = PiiEntity(entity)
    return out


def fresh_keys() -> KeyRing:
    """A new 256-bit key from the OS's CSPRNG, for this call only: never derived from the spec or the data."""
    return KeyRing(secrets.token_bytes(32), "ephemeral")


def _letters(i: int) -> str:
    """Row number i in lower-case letters (base 26): keys the email draw without changing its style."""
    out = ""
    while True:
        i, r = divmod(i, 26)
        out = string.ascii_lowercase[r] + out
        if i == 0:
            return out


def refake_rows(n_rows: int, columns: Mapping[str, PiiEntity], locale: str,
                keys: Optional[KeyRing] = None) -> dict[str, list[str]]:
    """Values for `columns` on `n_rows` rows, one synthetic person per row (see the module docstring).

    `keys` defaults to `fresh_keys()`; tests pass a fixed one to check determinism given the key.
    """
    keys = keys or fresh_keys()
    fakes = Fakes(locale, keys)
    names = NameBook(fakes)
    fake = get_action(PiiAction.FAKE)
    params = ActionParams()
    domains = sorted(fakes.free_email_domains)
    out: dict[str, list[str]] = {c: [] for c in columns}
    for i in range(n_rows):
        person = (names.first(FIRST_TEMPLATE, i), names.last(LAST_TEMPLATE, i))
        for col, entity in columns.items():
            if entity == E.FIRST_NAME:
                value = person[0]
            elif entity == E.LAST_NAME:
                value = person[1]
            elif entity == E.PERSON:
                value = f"{person[0]} {person[1]}"
            elif entity == E.EMAIL_ADDRESS:
                value = names.email(_email_template(keys.rng("refake-email", str(i)), i, domains), person)
            else:
                ctx = ValueContext(entity=entity, params=params, keys=keys, fakes=fakes, names=names, column=col,
                                   person=person, attempt=i)
                value = str(fake.operate(TEMPLATES[entity], ctx))
            out[col].append(value)
    return out


def _email_template(rng: random.Random, i: int, domains: list[str]) -> str:
    """An address whose shape NameBook.email copies: a keyed separator, trailing digits or none, a free-mail
    domain. Its letters encode the row only so that the draws differ per row; the local part is rebuilt."""
    sep = rng.choice(EMAIL_SEPARATORS)
    digits = "00" if rng.random() < 0.3 else ""
    return f"{_letters(i)}{sep}x{digits}@{rng.choice(domains)}"
