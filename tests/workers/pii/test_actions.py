"""Every registered action: one shared table (determinism, key dependence), then each one's specifics."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import pytest

from safesynth.errors import BadInputError
from safesynth.pii import patterns, recognizers
from safesynth.pii.actions import ActionParams, Target, ValueContext, get_action, registered
from safesynth.pii.keys import KeyRing
from safesynth.pii.persona import Fakes, NameBook
from safesynth.schema import ColumnKind as K
from safesynth.spec.models import PiiAction as A
from safesynth.spec.models import PiiEntity as E


def ctx(keys: KeyRing, entity: E | None, kind: K | None, **params: Any) -> ValueContext:
    fakes = Fakes("en_US", keys)
    return ValueContext(entity=entity, params=ActionParams(**params), keys=keys, fakes=fakes, names=NameBook(fakes),
                        kind=kind, column="col")


# action, entity, kind, sample values, keyed (output depends on the key)
TABLE = [
    (A.FAKE, E.EMAIL_ADDRESS, K.IDENTIFIER, ["ann.lee@corp-mail.com", "bo.wu@x-y.org", "cy@gmail.com"], True),
    (A.HASH, E.US_SSN, K.IDENTIFIER, ["123-45-6789", "234-56-7890", "345-67-8901"], True),
    (A.MASK, E.CREDIT_CARD, K.IDENTIFIER, ["4111 1111 1111 1111", "5500-0000-0000-0004", "12"], False),
    (A.REDACT, E.PHONE_NUMBER, K.IDENTIFIER, ["555-123-4567", "(555) 765-4321", "+44 20 7946 0958"], False),
    (A.KEEP, E.STATE, K.CATEGORICAL, ["CA", "NY", "TX"], False),
    (A.DROP, E.US_SSN, K.IDENTIFIER, ["123-45-6789", "234-56-7890", "345-67-8901"], False),
    (A.DATE_SHIFT, E.DATE_OF_BIRTH, K.DATETIME,
     [pd.Timestamp("1980-01-02"), pd.Timestamp("1990-06-30"), pd.Timestamp("2001-12-31 08:15")], True),
    (A.GENERALIZE, E.ZIP_CODE, K.IDENTIFIER, ["02134", "90210-1234", "10001"], False),
    (A.PERTURB, E.AGE, K.INTEGER, [34, 58, 71], True),
    (A.TOKENIZE, E.IDENTIFIER, K.IDENTIFIER, ["P-00123", "P-00124", "Q-99999"], True),
]


def test_registry_covers_every_spec_action() -> None:
    assert set(registered()) == set(A)
    assert {row[0] for row in TABLE} == set(A)
    assert all(get_action(a).name == a for a in A)


@pytest.mark.parametrize(("action", "entity", "kind", "values", "keyed"), TABLE, ids=[r[0].value for r in TABLE])
def test_every_action_is_deterministic_and_keyed_as_declared(action: A, entity: E, kind: K, values: list[Any],
                                                             keyed: bool, keys: KeyRing, other_keys: KeyRing) -> None:
    act = get_action(action)
    act.validate(Target("col", kind, entity))
    first = [act.operate(v, ctx(keys, entity, kind)) for v in values]
    again = [act.operate(v, ctx(keys, entity, kind)) for v in values]
    other = [act.operate(v, ctx(other_keys, entity, kind)) for v in values]
    assert first == again
    assert (first != other) == keyed
    if not (act.identity or act.removes_column):
        assert all(new != old for new, old in zip(first, values))


@pytest.mark.parametrize(("action", "kind", "entity", "free_text", "why"), [
    (A.DATE_SHIFT, K.IDENTIFIER, E.DATE_OF_BIRTH, False, "kind"),
    (A.DATE_SHIFT, K.TEXT, None, True, "free-text"),
    (A.PERTURB, K.CATEGORICAL, E.AGE, False, "kind"),
    (A.GENERALIZE, K.TEXT, None, True, "free-text"),
    (A.FAKE, K.INTEGER, E.AGE, False, "no fake"),
    (A.FAKE, K.IDENTIFIER, None, False, "entity"),
    (A.FAKE, K.IDENTIFIER, E.DATE_OF_BIRTH, False, "datetime"),
    (A.HASH, K.BOOLEAN, E.US_SSN, False, "boolean"),
    (A.TOKENIZE, K.FLOAT, E.IDENTIFIER, False, "kind"),
])
def test_validate_refuses_with_the_field_path(action: A, kind: K, entity: E | None, free_text: bool, why: str) -> None:
    with pytest.raises(BadInputError) as info:
        get_action(action).validate(Target("col", kind, entity, free_text=free_text))
    assert info.value.exit_code == 2 and "spec.pii.columns.col." in str(info.value) and why in str(info.value)


def test_keep_and_drop_accept_anything() -> None:
    for action in (A.KEEP, A.DROP):
        get_action(action).validate(Target("col", K.BOOLEAN, None))
        get_action(action).validate(Target("col", K.TEXT, None, free_text=True))


@pytest.mark.usefixtures("presidio_recognizers")
def test_fake_preserves_formats_and_validity(keys: KeyRing) -> None:
    fake = get_action(A.FAKE)
    card = fake.operate("4111 1111 1111 1111", ctx(keys, E.CREDIT_CARD, K.IDENTIFIER))
    assert re.fullmatch(r"4\d{3} \d{4} \d{4} \d{4}", card) and recognizers.whole_value(card, E.CREDIT_CARD)
    iban = fake.operate("GB82 WEST 1234 5698 7654 32", ctx(keys, E.IBAN_CODE, K.IDENTIFIER))
    assert iban.startswith("GB") and len(iban) == 27 and recognizers.whole_value(iban, E.IBAN_CODE)
    ssn = fake.operate("536-22-1234", ctx(keys, E.US_SSN, K.IDENTIFIER))
    assert patterns.BY_NAME["ssn"].matches(ssn)
    for phone in ("(555) 123-4567", "+1-555-123-4567x890", "555.123.4567", "+44 20 7946 0958"):
        new = fake.operate(phone, ctx(keys, E.PHONE_NUMBER, K.IDENTIFIER))
        assert re.sub(r"\d", "0", new) == re.sub(r"\d", "0", phone) and new != phone
    # spellings of one phone number get the same digits
    a = fake.operate("(555) 123-4567", ctx(keys, E.PHONE_NUMBER, K.IDENTIFIER))
    b = fake.operate("555.123.4567", ctx(keys, E.PHONE_NUMBER, K.IDENTIFIER))
    assert patterns.digits_of(a) == patterns.digits_of(b)
    assert isinstance(fake.operate(5551234567, ctx(keys, E.PHONE_NUMBER, K.INTEGER)), int)
    ip = fake.operate("192.168.1.20", ctx(keys, E.IP_ADDRESS, K.IDENTIFIER))
    assert patterns.ipv4_valid(ip)
    assert "@" in fake.operate("ann@example.com", ctx(keys, E.EMAIL_ADDRESS, K.IDENTIFIER))
    born = fake.operate(pd.Timestamp("1980-01-02"),
                        ValueContext(**{**ctx(keys, E.DATE_OF_BIRTH, K.DATETIME).__dict__,
                                        "bounds": ("1950-01-01", "1999-12-31")}))
    assert pd.Timestamp("1950-01-01") <= born <= pd.Timestamp("1999-12-31")


def test_mask_hash_redact_tokenize(keys: KeyRing) -> None:
    c = ctx(keys, E.US_SSN, K.IDENTIFIER, keep_last=4)
    assert get_action(A.MASK).operate("123-45-6789", c) == "***-**-6789"
    assert get_action(A.MASK).operate("1234", c) == "****"
    h = get_action(A.HASH).operate("123-45-6789", c)
    assert re.fullmatch(r"[0-9a-f]{16}", h) and h == get_action(A.HASH).operate("123 45 6789", c)
    assert get_action(A.REDACT).operate("123-45-6789", c) == "<US_SSN>"
    tok = get_action(A.TOKENIZE).operate("Ab-12.x", ctx(keys, E.IDENTIFIER, K.IDENTIFIER))
    assert re.fullmatch(r"[A-Z][a-z]-\d\d\.[a-z]", tok)
    num = get_action(A.TOKENIZE).operate(100234, ctx(keys, E.IDENTIFIER, K.INTEGER))
    assert isinstance(num, int) and len(str(num)) == 6


def test_generalize(keys: KeyRing) -> None:
    g = get_action(A.GENERALIZE)
    assert g.operate("02134-1234", ctx(keys, E.ZIP_CODE, K.IDENTIFIER)) == "021**"
    assert g.operate(90210, ctx(keys, E.ZIP_CODE, K.INTEGER)) == "902**"
    assert g.operate(37, ctx(keys, E.AGE, K.INTEGER)) == "30-39"
    assert g.operate(93, ctx(keys, E.AGE, K.INTEGER)) == "90+"
    assert g.operate(3.7, ctx(keys, None, K.FLOAT, band_width=2.5)) == "2.5-5"
    assert g.operate(pd.Timestamp("1984-05-06"), ctx(keys, E.DATE_OF_BIRTH, K.DATETIME)) == 1984


def test_date_shift_and_perturb_stay_within_bounds(keys: KeyRing) -> None:
    shift = get_action(A.DATE_SHIFT)
    day = pd.Timestamp("2000-01-01")
    base = ctx(keys, E.DATE_OF_BIRTH, K.DATETIME, max_shift_days=30)
    moved = [shift.operate(day, ValueContext(**{**base.__dict__, "subject": f"s{i}"})) for i in range(50)]
    assert all(1 <= abs((m - day).days) <= 30 for m in moved)
    same = ValueContext(**{**base.__dict__, "subject": "one person"})
    assert (shift.operate(day, same) - day) == (shift.operate(pd.Timestamp("2010-07-07"), same)
                                                - pd.Timestamp("2010-07-07"))
    p = get_action(A.PERTURB)
    vals = [p.operate(v, ctx(keys, None, K.FLOAT, relative_noise=0.1)) for v in (100.0, 250.0, -40.0)]
    assert all(abs(new - old) <= 0.1 * abs(old) for new, old in zip(vals, (100.0, 250.0, -40.0)))
    assert p.operate(0, ctx(keys, None, K.INTEGER)) == 0
