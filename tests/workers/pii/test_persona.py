"""Synthetic people: consistent per value, coherent per row, never an original name."""

from __future__ import annotations

import pytest

from safesynth.errors import BadInputError
from safesynth.pii import gazetteer
from safesynth.pii.keys import KeyRing
from safesynth.pii.persona import Fakes, NameBook


@pytest.fixture
def book(keys: KeyRing) -> NameBook:
    b = NameBook(Fakes("en_US", keys))
    b.learn(first=["John", "Mary", "James"], last=["Smith", "Johnson", "Brown"])
    return b


def test_names_are_consistent_styled_and_never_original(book: NameBook) -> None:
    assert book.first("John") == book.first("John") == book.first("JOHN").title()
    assert book.first("john").islower() and book.last("SMITH").isupper()
    originals = {"john", "mary", "james", "smith", "johnson", "brown"}
    fakes = {book.first(n) for n in ("John", "Mary", "James")} | {book.last(n) for n in ("Smith", "Johnson", "Brown")}
    assert not {f.casefold() for f in fakes} & originals


def test_full_names_map_token_wise(book: NameBook) -> None:
    full = book.full("Dr. John Q. Smith")
    assert full.startswith("Dr. ") and book.first("John") in full and book.last("Smith") in full
    assert book.full("Smith, John") == f"{book.last('Smith')}, {book.first('John')}"
    assert book.full("Smith") == book.last("Smith") and book.full("Mary") == book.first("Mary")


def test_email_follows_the_person_and_keeps_style(book: NameBook) -> None:
    person = book.person("John", "Smith", None)
    email = book.email("john.smith42@gmail.com", person)
    local, domain = email.split("@")
    assert domain == "gmail.com" and local.startswith(gazetteer.tokens(person[0])[0].replace("'", ""))
    assert "." in local and local[-2:].isdigit() and email != "john.smith42@gmail.com"
    private = book.email("j.smith@acme-corp.com", person)
    assert not private.endswith("acme-corp.com")
    assert book.email("j.smith@acme-corp.com", person) == private
    assert book.email("a@acme-corp.com", None).split("@")[1] == private.split("@")[1]


def test_another_key_gives_other_names(keys: KeyRing, other_keys: KeyRing) -> None:
    a, b = NameBook(Fakes("en_US", keys)), NameBook(Fakes("en_US", other_keys))
    names = ["Alice", "Bob", "Carol", "Dave", "Erin"]
    assert [a.first(n) for n in names] != [b.first(n) for n in names]


def test_unknown_locale_is_an_input_error(keys: KeyRing) -> None:
    with pytest.raises(BadInputError, match=r"spec\.pii\.locale"):
        Fakes("xx_YY", keys)
