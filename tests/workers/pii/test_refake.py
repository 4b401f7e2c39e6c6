"""pii.refake: which columns hold whole-cell fakes, and fresh fakes per row that agree with each other."""

from __future__ import annotations

from typing import Any

import pytest

from safesynth.pii import refake
from safesynth.pii.formats import ascii_slug
from safesynth.pii.keys import KeyRing
from safesynth.spec.models import PiiEntity as E

KEY = KeyRing(b"k" * 32, "environment")
PERSON = {"first_name": E.FIRST_NAME, "last_name": E.LAST_NAME, "full_name": E.PERSON, "email": E.EMAIL_ADDRESS}


def entry(column: str, entity: Any, action: str = "fake", mode: str = "structured", **more: Any) -> dict[str, Any]:
    return {"column": column, "entity": entity, "action": action, "mode": mode, "outputKind": "categorical", **more}


@pytest.mark.parametrize(("column", "selected"), [
    (entry("first_name", "FIRST_NAME"), True),
    (entry("phone", "PHONE_NUMBER"), True),
    (entry("ssn", "US_SSN"), True),
    (entry("street", "STREET_ADDRESS"), True),
    (entry("note", None, mode="freeText"), False),  # spans inside text: the text is learned
    (entry("pid", "IDENTIFIER", action="tokenize"), False),  # identifiers have their own path
    (entry("dob", "DATE_OF_BIRTH", action="dateShift"), False),  # shifted real dates carry information
    (entry("zip", "ZIP_CODE", action="generalize"), False),  # a generalized real value
    (entry("birth", "DATE_OF_BIRTH"), False),  # fake dates need the column's range: learned
    (entry("city", "CITY", dropped=True), False),
    (entry("state", "STATE", outputKind=None), False),
    (entry("gender", None, action="keep", mode="none"), False),
])
def test_refaked_columns_are_the_whole_cell_fakes_of_drawable_entities(column: dict[str, Any], selected: bool) -> None:
    assert (column["column"] in refake.refaked_columns({"columns": [column]})) is selected


def test_no_report_means_no_column() -> None:
    assert refake.refaked_columns(None) == {} and refake.refaked_columns({"enabled": False}) == {}


def test_each_row_is_one_person_and_rows_differ() -> None:
    n = 300
    out = refake.refake_rows(n, {**PERSON, "phone": E.PHONE_NUMBER, "ssn": E.US_SSN}, "en_US", KEY)
    assert all(len(v) == n and all(isinstance(x, str) and x for x in v) for v in out.values())  # never null
    assert len(set(out["full_name"])) > 0.9 * n and len(set(out["email"])) > 0.95 * n
    assert len(set(out["phone"])) == n and len(set(out["ssn"])) == n
    for first, last, full, email in zip(out["first_name"], out["last_name"], out["full_name"], out["email"]):
        assert full == f"{first} {last}"
        local = email.split("@")[0].rstrip("0123456789")
        f, s = ascii_slug(first), ascii_slug(last)
        assert local in {f"{f}{sep}{s}" for sep in "._"} | {f + s, f[0] + s, f + s[0]}


def test_same_key_same_values_fresh_key_other_values() -> None:
    cols = {"first_name": E.FIRST_NAME, "phone": E.PHONE_NUMBER}
    assert refake.refake_rows(50, cols, "en_US", KEY) == refake.refake_rows(50, cols, "en_US", KEY)
    a, b = refake.refake_rows(50, cols, "en_US"), refake.refake_rows(50, cols, "en_US")
    assert sum(x == y for x, y in zip(a["phone"], b["phone"])) < 5


def test_every_entity_in_the_list_can_be_drawn() -> None:
    cols = {e.value: e for e in refake.REFAKE_ENTITIES}
    out = refake.refake_rows(20, cols, "en_US", KEY)
    assert all(len(set(v)) > 1 for v in out.values())
