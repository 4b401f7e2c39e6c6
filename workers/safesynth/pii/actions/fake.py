"""fake: a realistic value of the same entity, in the same format, consistent per value.

Names and emails come from `persona.NameBook` (coherent per row, see there);
phones, SSNs, cards, IBANs and IP addresses from `formats` (same layout,
valid check digits); addresses, cities, states, ZIP codes, URLs and companies
from Faker in the job's locale, reseeded per value from the job key. Dates
get a keyed date inside the column's observed range. Identifier-like entities
(IDENTIFIER, MEDICAL_RECORD_NUMBER, licences, passports, bank numbers) get a
format-preserving token. A replacement never equals an original value of the
column (the applier redraws).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from safesynth.errors import BadInputError
from safesynth.pii import formats
from safesynth.pii.actions.base import STRING_KINDS, Action, Target, ValueContext, register, text_of, value_key
from safesynth.pii.patterns import digits_of
from safesynth.schema import ColumnKind
from safesynth.spec.models import PiiAction, PiiEntity

DATE_ENTITIES = frozenset({PiiEntity.DATE_OF_BIRTH, PiiEntity.DATE_TIME})
# Entities without a meaningful fake value: use perturb or generalize.
NO_FAKE = frozenset({PiiEntity.AGE})
# Half-width of the window for a fake date when the column's range is unknown, in days.
DATE_WINDOW_DAYS = 3650


@register
class Fake(Action):
    name = PiiAction.FAKE
    avoids_originals = True
    kinds = STRING_KINDS | frozenset({ColumnKind.INTEGER, ColumnKind.DATETIME, ColumnKind.FLOAT})

    def validate(self, target: Target) -> None:
        super().validate(target)
        if target.free_text:
            return
        if target.entity is None:
            raise BadInputError(f"spec.pii.columns.{target.column}.entity: fake needs to know what to fake in "
                                f"column {target.column!r}; set an entity (e.g. PERSON, EMAIL_ADDRESS) or use tokenize")
        if target.entity in NO_FAKE:
            self._refuse(target, "there is no fake for this entity; use perturb or generalize")
        if target.entity in DATE_ENTITIES and target.kind != ColumnKind.DATETIME:
            self._refuse(target, "fake dates need a datetime column; use tokenize, mask or redact")
        if target.kind == ColumnKind.FLOAT:
            self._refuse(target, "floats have no fake; use perturb or generalize")

    def operate(self, value: Any, ctx: ValueContext) -> Any:
        e = ctx.entity
        if e in DATE_ENTITIES or isinstance(value, pd.Timestamp):
            return _fake_date(value, ctx)
        text = text_of(value).strip()
        out = _fake_text(text, ctx)
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            digits = digits_of(out).lstrip("0") or "1"
            return int(digits)
        return out


def _fake_text(text: str, ctx: ValueContext) -> str:
    e = ctx.entity
    names = ctx.names
    key = f"{value_key(e, text)}\x1f{ctx.attempt}"
    rng = ctx.keys.rng(f"fake-{e.value if e else 'token'}", key)
    if e == PiiEntity.FIRST_NAME:
        return names.first(text, ctx.attempt)
    if e == PiiEntity.LAST_NAME:
        return names.last(text, ctx.attempt)
    if e == PiiEntity.PERSON:
        return names.full(text, ctx.attempt)
    if e == PiiEntity.EMAIL_ADDRESS and "@" in text:
        return names.email(text, ctx.person, ctx.attempt)
    if e == PiiEntity.PHONE_NUMBER:
        return formats.fake_phone(text, rng)
    if e == PiiEntity.US_SSN:
        return formats.fake_ssn(text, rng)
    if e == PiiEntity.CREDIT_CARD:
        return formats.fake_card(text, rng)
    if e == PiiEntity.IBAN_CODE and len(text.replace(" ", "")) > 4:
        return formats.fake_iban(text, rng)
    if e == PiiEntity.IP_ADDRESS:
        return formats.fake_ipv6(text, rng) if ":" in text else formats.fake_ipv4(rng)
    fk = ctx.fakes.seeded(f"fake-{e.value if e else 'token'}", key)
    if e == PiiEntity.URL:
        url = str(fk.url())
        return url + str(fk.uri_path()) if re.search(r"https?://[^/]+/.+", text) else url
    if e == PiiEntity.STREET_ADDRESS:
        if "\n" in text or "," in text:
            sep = "\n" if "\n" in text else ", "
            return str(fk.address()).replace("\n", sep)
        return str(fk.street_address())
    if e in (PiiEntity.CITY, PiiEntity.LOCATION):
        return formats.style_like(text, fk.city())
    if e == PiiEntity.STATE:
        return formats.style_like(text, fk.state_abbr() if len(text) == 2 else fk.state())
    if e == PiiEntity.ORGANIZATION:
        return formats.style_like(text, fk.company())
    if e == PiiEntity.ZIP_CODE and digits_of(text) and not any(c.isalpha() for c in text):
        return formats.fill_digits(text, fk.zipcode() + fk.numerify("####"))
    return formats.token_like(text, rng, first_nonzero=False)


def _fake_date(value: Any, ctx: ValueContext) -> Any:
    ts = pd.Timestamp(value)
    if ctx.bounds and ctx.bounds[0] is not None and ctx.bounds[1] is not None:
        lo, hi = pd.Timestamp(ctx.bounds[0]), pd.Timestamp(ctx.bounds[1])
    else:
        lo, hi = ts - pd.Timedelta(days=DATE_WINDOW_DAYS), ts + pd.Timedelta(days=DATE_WINDOW_DAYS)
    if ts.tzinfo is not None:
        lo = lo.tz_localize(ts.tzinfo) if lo.tzinfo is None else lo.tz_convert(ts.tzinfo)
        hi = hi.tz_localize(ts.tzinfo) if hi.tzinfo is None else hi.tz_convert(ts.tzinfo)
    span_days = max((hi - lo).days, 1)
    u = ctx.keys.unit("fake-date", f"{text_of(value)}\x1f{ctx.attempt}")
    new = lo.normalize() + pd.Timedelta(days=int(u * span_days))
    # Keep the time of day, so a date-only column stays date-only.
    return new + (ts - ts.normalize())

